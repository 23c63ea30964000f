"""The Bot API contract, read from the machine-readable spec instead of written by hand.

A hand-written fake only checks what its author remembered; the spec lists every
method, parameter and type Telegram knows, so a call that passes here has the shape
Telegram expects.  On top of the structure, the spec's prose states limits ("1-4096
characters after entities parsing", "1-64 bytes", "At most 100 commands"); those are
extracted with a few regular expressions so that the content rules follow the spec
version rather than this file.  The handful of rules the spec only states in words
that cannot be parsed reliably (command names, inline button kinds, parse modes,
language codes) are written out below.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.fakeapi.formatting import PARSE_MODES, EntityParseError, parse_formatted, parse_html

__all__ = ["ApiSpec", "EntityParseError", "UploadedFile", "find_spec_path", "parse_html"]

SPEC_ENV = "ZHENGFENG_BOTAPI_SPEC"


VENDORED_SPEC = Path(__file__).resolve().parent / "botapi" / "api.json"
"""The same pinned spec (see ``botapi/SOURCE.txt``), shipped with the project so a clean clone
on a machine with nothing else validates against it too."""


def find_spec_path() -> Path:
    """Locate ``api.json``: ``$ZHENGFENG_BOTAPI_SPEC``, else the shared copy beside the
    repository (``<repo>/../shared/telegram-bot-api``) when there is one, else the copy the
    project ships."""
    configured = os.environ.get(SPEC_ENV)
    if configured:
        path = Path(configured)
    else:
        shared = Path(__file__).resolve().parents[2].parent / "shared" / "telegram-bot-api"
        path = shared / "api.json" if (shared / "api.json").is_file() else VENDORED_SPEC
    if not path.is_file():
        raise FileNotFoundError(
            f"Telegram Bot API spec not found at {path}. Set {SPEC_ENV} to the path of "
            "api.json from https://github.com/PaulSonOfLars/telegram-bot-api-spec"
        )
    return path


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file that arrived as a multipart part, standing in for the spec's ``InputFile``.

    Both transports (in-process and HTTP) turn uploads into this, so the validator and
    the fake server never see library- or framework-specific file objects.
    """

    name: str
    filename: str
    content: bytes
    mime_type: str


_SCALARS: dict[str, Callable[[object], bool]] = {
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "String": lambda v: isinstance(v, str),
}
_ARRAY = "Array of "
_DISCRIMINATORS = ("type", "source", "status")
_CONST = re.compile(r"(?:must be|always) \"?([a-z_]+)\"?$")
_LENGTH = re.compile(r"(\d+)-(\d+) (characters|bytes)( after entit(?:y|ies) parsing)?")
_COUNTS = (
    re.compile(r"(?:list|array) of (\d+)-(\d+) "),
    re.compile(r"must include (\d+)-(\d+) items"),
    re.compile(r"(?:list of|[Aa]t most|up to) (\d+) [\w ]*?(?:can be specified|items|identifiers)"),
)
_PARSE_MODES_LOWER = frozenset(mode.lower() for mode in PARSE_MODES)
_ISO_639 = "A two-letter ISO 639-1 language code"
_COMMAND_CHARS = re.compile(r"^[a-z0-9_]*$")  # the length is a rule the spec states
_LANGUAGE = re.compile(r"^(?:[a-z]{2})?$")
# Inline buttons carry exactly one action; these fields only decorate the button.
_BUTTON_DECORATIONS = frozenset({"text", "icon_custom_emoji_id", "style"})
_NONEMPTY_TEXT = frozenset({("InlineKeyboardButton", "text"), ("KeyboardButton", "text")})


@dataclass(frozen=True, slots=True)
class _Field:
    """A parameter or field with the limits its description states."""

    name: str
    types: tuple[str, ...]
    required: bool
    const: str | None
    length: tuple[int, int, str] | None
    parse_mode_field: str | None  # set when the length counts text after entity parsing
    count: tuple[int, int] | None
    iso_language: bool


def _read_fields(raw: Mapping[str, Any]) -> dict[str, _Field]:
    names = {f["name"] for f in raw.get("fields", [])}
    fields: dict[str, _Field] = {}
    for f in raw.get("fields", []):
        name, description, types = f["name"], f.get("description", ""), tuple(f["types"])
        const = _CONST.search(description) if name in _DISCRIMINATORS else None
        length = _LENGTH.search(description) if types == ("String",) else None
        parse_mode_field = None
        # InputTextMessageContent.message_text omits "after entities parsing" but is parsed.
        if (length and length.group(4)) or (name == "message_text" and "parse_mode" in names):
            own = f"{name}_parse_mode"  # sendPoll's description_parse_mode and the like
            parse_mode_field = own if own in names else "parse_mode"
        count = None
        if types[0].startswith(_ARRAY):
            for pattern in _COUNTS:
                if match := pattern.search(description):
                    numbers = [int(g) for g in match.groups()]
                    count = (numbers[0], numbers[1]) if len(numbers) == 2 else (0, numbers[0])
                    break
        fields[name] = _Field(
            name=name,
            types=types,
            required=bool(f.get("required")),
            const=const.group(1) if const else None,
            length=(int(length.group(1)), int(length.group(2)), length.group(3))
            if length
            else None,
            parse_mode_field=parse_mode_field,
            count=count,
            iso_language=name == "language_code" and description.startswith(_ISO_639),
        )
    return fields


def _describe(value: object) -> str:
    if isinstance(value, UploadedFile):
        return "an uploaded file"
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"


class ApiSpec:
    """Validates Bot API calls as they leave python-telegram-bot.

    Values are expected the way ``telegram.request.RequestData.parameters`` produces
    them: JSON-compatible Python objects, uploads as :class:`UploadedFile`, and
    occasionally an object or array still encoded as a JSON string.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version: str = data.get("version", "")
        self._methods = {name: _read_fields(raw) for name, raw in data["methods"].items()}
        self._returns = {name: tuple(raw["returns"]) for name, raw in data["methods"].items()}
        self._types = {name: _read_fields(raw) for name, raw in data["types"].items()}
        self._abstract = {
            name: tuple(raw["subtypes"]) for name, raw in data["types"].items() if "subtypes" in raw
        }

    @classmethod
    def load(cls, path: Path | None = None) -> ApiSpec:
        """Load (once per file and process) the spec at ``path`` or :func:`find_spec_path`."""
        return _load_cached((path or find_spec_path()).resolve())

    def has_method(self, method: str) -> bool:
        return method in self._methods

    def returns(self, method: str) -> tuple[str, ...]:
        """The method's declared result types, e.g. ``("Message", "Boolean")``."""
        return self._returns[method]

    # ------------------------------------------------------------ normalising input

    def _is_structured(self, types: Sequence[str]) -> bool:
        return all(t.startswith(_ARRAY) or (t in self._types and t != "InputFile") for t in types)

    def normalize_call(self, method: str, params: Mapping[str, object]) -> dict[str, object]:
        """Decode top-level objects and arrays that arrive JSON-encoded.

        python-telegram-bot sometimes hands over ``reply_markup`` and friends already
        serialised; Telegram decodes them, so the fake must too.
        """
        fields = self._methods.get(method, {})
        normalized = dict(params)
        for name, value in params.items():
            spec_field = fields.get(name)
            if isinstance(value, str) and spec_field and self._is_structured(spec_field.types):
                try:
                    decoded = json.loads(value)
                except ValueError:
                    continue
                if isinstance(decoded, dict | list):
                    normalized[name] = decoded
        return normalized

    def coerce_form(self, method: str, fields: Mapping[str, str]) -> dict[str, object]:
        """Turn form fields (all strings) back into the types the spec declares.

        HTTP clients such as httpx send ``123``, ``true`` and JSON text for non-string
        values; Telegram reads each one as the declared type, first match wins.
        """
        spec_fields = self._methods.get(method, {})
        result: dict[str, object] = {}
        for name, raw in fields.items():
            spec_field = spec_fields.get(name)
            result[name] = self._coerce(spec_field.types, raw) if spec_field else raw
        return result

    def _coerce(self, types: Sequence[str], raw: str) -> object:
        for t in types:
            if t == "Integer" and re.fullmatch(r"-?\d+", raw):
                return int(raw)
            if t == "Float" and re.fullmatch(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", raw):
                return float(raw)
            if t == "Boolean" and raw in ("true", "false"):
                return raw == "true"
            if t in ("String", "InputFile"):
                return raw
            if self._is_structured([t]):
                try:
                    decoded = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(decoded, dict | list):
                    return decoded
        return raw

    # ------------------------------------------------------------------ validation

    def validate_call(self, method: str, params: Mapping[str, object]) -> list[str]:
        """Everything Telegram would reject about this call; an empty list means none."""
        fields = self._methods.get(method)
        if fields is None:
            return [f"{method}: no such method in {self.version or 'the Bot API spec'}"]
        out: list[str] = []
        self._check_object(method, fields, self.normalize_call(method, params), method, out)
        return out

    def validate_value(self, types: Sequence[str], value: object, where: str) -> list[str]:
        """Check ``value`` against spec types, e.g. a method's result against its ``returns``."""
        out: list[str] = []
        self._check_value(tuple(types), value, where, out)
        return out

    def _check_object(
        self,
        owner: str,
        fields: Mapping[str, _Field],
        obj: Mapping[str, object],
        where: str,
        out: list[str],
    ) -> None:
        kind, of = ("parameter", "") if owner in self._methods else ("field", f" of {owner}")
        out.extend(
            f"{where}: missing required {kind} '{f.name}'{of}"
            for f in fields.values()
            if f.required and f.name not in obj
        )
        for name, value in obj.items():
            spec_field = fields.get(name)
            if spec_field is None:
                out.append(f"{where}: unknown {kind} '{name}'{of}")
                continue
            before = len(out)
            self._check_value(spec_field.types, value, f"{where}.{name}", out)
            if len(out) == before:
                self._check_rules(owner, spec_field, value, obj, f"{where}.{name}", out)

    def _check_value(
        self, types: tuple[str, ...], value: object, path: str, out: list[str]
    ) -> None:
        if len(types) == 1:
            self._check_type(types[0], value, path, out)
            return
        if isinstance(value, list | tuple) and all(t.startswith(_ARRAY) for t in types):
            # The spec flattens "Array of A, B and C" (sendMediaGroup) into a union of
            # arrays, but Telegram accepts a photo next to a video: check each item.
            items = tuple(t.removeprefix(_ARRAY) for t in types)
            for index, item in enumerate(value):
                self._check_value(items, item, f"{path}[{index}]", out)
            return
        narrowed = self._discriminate(types, value, path, out)
        if narrowed is None:
            return
        if len(narrowed) == 1:
            self._check_type(narrowed[0], value, path, out)
            return
        attempts: list[tuple[int, list[str]]] = []
        for t in narrowed:
            errors: list[str] = []
            self._check_type(t, value, path, errors)
            if not errors:
                return
            if self._shape_matches(t, value):
                attempts.append((self._misfit(t, value), errors))
        if attempts:
            # Report against the type whose top-level fields the value resembles most.
            out.extend(min(attempts, key=lambda attempt: (attempt[0], len(attempt[1])))[1])
        else:
            out.append(f"{path}: expected {' or '.join(types)}, got {_describe(value)}")

    def _misfit(self, t: str, value: object) -> int:
        """How many top-level fields of ``value`` are unknown to, or missing for, type ``t``."""
        if not isinstance(value, Mapping):
            return 0
        if t in self._abstract:
            return min(self._misfit(sub, value) for sub in self._abstract[t])
        fields = self._types.get(t, {})
        unknown = sum(1 for name in value if name not in fields)
        return unknown + sum(1 for f in fields.values() if f.required and f.name not in value)

    def _shape_matches(self, t: str, value: object) -> bool:
        """Whether ``value`` is at least the right kind of JSON value for ``t``."""
        if t.startswith(_ARRAY):
            return isinstance(value, list | tuple)
        if t in _SCALARS:
            return _SCALARS[t](value)
        if t == "InputFile":
            return isinstance(value, UploadedFile)
        return isinstance(value, Mapping)

    def _check_type(self, t: str, value: object, path: str, out: list[str]) -> None:
        if t.startswith(_ARRAY):
            if not isinstance(value, list | tuple):
                out.append(f"{path}: expected {t}, got {_describe(value)}")
                return
            for index, item in enumerate(value):
                self._check_type(t.removeprefix(_ARRAY), item, f"{path}[{index}]", out)
            return
        if t in _SCALARS:
            if not _SCALARS[t](value):
                out.append(f"{path}: expected {t}, got {_describe(value)}")
            return
        if t == "InputFile":
            # python-telegram-bot uploads a file either as the parameter itself
            # (a multipart part of that name) or as "attach://<part name>".
            attached = isinstance(value, str) and value.startswith("attach://")
            if not (attached or isinstance(value, UploadedFile)):
                out.append(f"{path}: expected an uploaded file, got {_describe(value)}")
            return
        if t not in self._types:
            raise KeyError(f"type {t!r} used by {path} is not defined in the spec")
        if not isinstance(value, Mapping):
            out.append(f"{path}: expected {t} object, got {_describe(value)}")
            return
        if t in self._abstract:
            self._check_abstract(t, value, path, out)
            return
        fields = self._types[t]
        if not fields:  # placeholder types such as CallbackGame carry no fields
            return
        self._check_object(t, fields, value, path, out)
        if t == "InlineKeyboardButton":
            actions = sorted(name for name in value if name in fields)
            actions = [name for name in actions if name not in _BUTTON_DECORATIONS]
            if len(actions) != 1:
                got = ", ".join(actions) or "none (text buttons are unallowed in inline keyboards)"
                out.append(
                    f"{path}: an inline keyboard button needs exactly one action such as "
                    f"callback_data or url; got {got}"
                )

    def _check_abstract(
        self, t: str, value: Mapping[str, object], path: str, out: list[str]
    ) -> None:
        narrowed = self._discriminate(self._abstract[t], value, path, out)
        if narrowed is not None:
            self._check_value(narrowed, value, path, out)

    def _discriminate(
        self, types: tuple[str, ...], value: object, path: str, out: list[str]
    ) -> tuple[str, ...] | None:
        """Keep the candidate types whose constant ``type`` (or source/status) matches.

        Returns None after reporting a value that matches none of them, so the error
        names the bad discriminator instead of listing every candidate's complaints.
        """
        if not isinstance(value, Mapping):
            return types
        for disc in _DISCRIMINATORS:
            consts = {
                t: self._types[t][disc].const
                for t in types
                if t in self._types and disc in self._types[t]
            }
            if len(consts) != len(types) or None in consts.values() or disc not in value:
                continue
            matching = tuple(t for t, const in consts.items() if const == value[disc])
            if not matching:
                allowed = ", ".join(sorted({str(const) for const in consts.values()}))
                out.append(f"{path}.{disc}: {value[disc]!r} is not a valid {disc}; use {allowed}")
                return None
            return matching
        return types

    def _check_rules(
        self,
        owner: str,
        spec_field: _Field,
        value: object,
        obj: Mapping[str, object],
        path: str,
        out: list[str],
    ) -> None:
        name = spec_field.name
        if spec_field.const is not None and value != spec_field.const:
            out.append(f"{path}: must be {spec_field.const!r}, got {value!r}")
        if isinstance(value, str):
            self._check_text(owner, spec_field, value, obj, path, out)
        if spec_field.count and isinstance(value, list | tuple):
            low, high = spec_field.count
            if not low <= len(value) <= high:
                out.append(f"{path}: must contain {low}-{high} items, got {len(value)}")
        if (
            name.endswith("parse_mode")
            and isinstance(value, str)
            and value.lower() not in _PARSE_MODES_LOWER
        ):
            out.append(f"{path}: unsupported parse mode {value!r}; use {', '.join(PARSE_MODES)}")

    def _check_text(
        self,
        owner: str,
        spec_field: _Field,
        value: str,
        obj: Mapping[str, object],
        path: str,
        out: list[str],
    ) -> None:
        if (owner, spec_field.name) in _NONEMPTY_TEXT and not value:
            out.append(f"{path}: button text must not be empty")
        if (owner, spec_field.name) == ("BotCommand", "command") and not _COMMAND_CHARS.match(
            value
        ):
            out.append(
                f"{path}: {value!r} is not a valid command; use only lowercase English "
                "letters, digits and underscores"
            )
        if spec_field.iso_language and not _LANGUAGE.match(value):
            out.append(f"{path}: {value!r} is not a two-letter ISO 639-1 language code or empty")
        if spec_field.length is None:
            return
        low, high, unit = spec_field.length
        suffix = ""
        if unit == "bytes":
            suffix = " in UTF-8"
            size = len(value.encode("utf-8"))
        elif spec_field.parse_mode_field is None:
            size = len(value)
        else:
            suffix = " after entities parsing"
            mode = obj.get(spec_field.parse_mode_field)
            if not isinstance(mode, str) or mode.lower() not in _PARSE_MODES_LOWER:
                mode = None  # an invalid mode is reported on its own; count the raw text
            try:
                size = len(parse_formatted(value, mode)[0])
            except EntityParseError as exc:
                out.append(f"{path}: can't parse entities: {exc}")
                return
        if not low <= size <= high:
            out.append(f"{path}: must be {low}-{high} {unit}{suffix}, got {size}")


@functools.cache
def _load_cached(path: Path) -> ApiSpec:
    with path.open(encoding="utf-8") as handle:
        return ApiSpec(json.load(handle))
