"""Telegram's three text formatting modes, parsed the way the Bot API server parses them.

The point is to reject, in tests, exactly the texts Telegram would answer with
``400 Bad Request: can't parse entities: ...`` and to count message length on the
text that remains after the markup is gone, because that is what the 4096/1024
character limits apply to.  The parsers follow tdlib's ``parse_html``,
``parse_markdown_v2`` and ``parse_markdown`` closely, including their error
messages and byte offsets, with one deliberate difference: a ``&`` that does not
start ``&lt;``, ``&gt;``, ``&amp;``, ``&quot;`` or a numeric reference is an error
here, while the server silently keeps it.  The documentation requires escaping it,
and a bot that forgets to escape ``&`` almost always forgets ``<`` too.

Entities come back as Bot API ``MessageEntity`` dicts with UTF-16 offsets so that
the fake server can return messages that look like the ones Telegram returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["PARSE_MODES", "EntityParseError", "parse_formatted", "parse_html", "utf16_len"]

Entity = dict[str, object]


class EntityParseError(ValueError):
    """The text is not valid markup for its parse mode; Telegram would answer 400."""


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(text: str, index: int) -> int:
    """tdlib reports positions in UTF-8 bytes; matching it keeps error texts comparable."""
    return len(text[:index].encode("utf-8"))


@dataclass
class _Output:
    """Plain text being built, tracking its length in UTF-16 code units for entity offsets."""

    parts: list[str] = field(default_factory=list)
    utf16: int = 0
    chars: int = 0

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.utf16 += utf16_len(text)
        self.chars += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _entity(kind: str, start: int, end: int, **extra: object) -> Entity | None:
    """Telegram drops entities that cover no text, so they are never created."""
    if end <= start:
        return None
    return {"type": kind, "offset": start, "length": end - start, **extra}


def _strip(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Telegram trims surrounding whitespace from the parsed text and clips entities to it."""
    stripped = text.strip()
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    end = lead + utf16_len(stripped)
    clipped: list[Entity] = []
    for ent in entities:
        offset = int(str(ent["offset"]))
        start, stop = max(offset, lead), min(offset + int(str(ent["length"])), end)
        if stop > start:
            clipped.append({**ent, "offset": start - lead, "length": stop - start})
    clipped.sort(key=lambda e: (int(str(e["offset"])), -int(str(e["length"]))))
    return stripped, clipped


# --------------------------------------------------------------------------- HTML

_HTML_TAGS = frozenset(
    {
        "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
        "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
    }
)  # fmt: skip
_HTML_SIMPLE = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
    "del": "strikethrough", "span": "spoiler", "tg-spoiler": "spoiler",
}  # fmt: skip
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|(lt|gt|amp|quot));")
_NAME_TOKEN = re.compile(r"[A-Za-z0-9.\-]*")


def _html_char(text: str, pos: int) -> tuple[str, int]:
    """Decode the character reference at ``pos`` (which holds ``&``); return it and the end."""
    match = _HTML_ENTITY.match(text, pos)
    if match is None:
        raise EntityParseError(
            f"Bare '&' or unsupported HTML entity at byte offset {_byte_offset(text, pos)}; "
            "write '&amp;' for a literal ampersand"
        )
    decimal, hexadecimal, name = match.groups()
    if name:
        return _HTML_NAMED[name], match.end()
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(
            f"Invalid character reference at byte offset {_byte_offset(text, pos)}"
        )
    return chr(code), match.end()


@dataclass
class _OpenTag:
    name: str
    argument: str
    start: int
    language: str = ""


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _parse_start_tag(text: str, pos: int) -> tuple[_OpenTag, int]:
    """Parse ``<name attr="value" ...>`` at ``pos``; return the tag and the index after ``>``."""
    offset = _byte_offset(text, pos)
    end = pos + 1
    while end < len(text) and not text[end].isspace() and text[end] != ">":
        end += 1
    if end >= len(text):
        raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
    name = text[pos + 1 : end].lower()
    if name not in _HTML_TAGS:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
    argument = ""
    while True:
        end = _skip_spaces(text, end)
        if end >= len(text):
            raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
        if text[end] == ">":
            break
        attr_start = end
        while end < len(text) and not text[end].isspace() and text[end] not in "=>":
            end += 1
        attribute = text[attr_start:end].lower()
        if not attribute:
            raise EntityParseError(
                f'Empty attribute name in the tag "{name}" at byte offset {offset}'
            )
        end = _skip_spaces(text, end)
        if end >= len(text) or text[end] != "=":
            if name == "blockquote" and attribute == "expandable":
                argument = "expandable"
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                f"at byte offset {offset}"
            )
        end = _skip_spaces(text, end + 1)
        if end >= len(text):
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {offset}')
        value, end = _attribute_value(text, end, offset)
        if name == "a" and attribute == "href":
            argument = value
        elif name == "code" and attribute == "class" and value.startswith("language-"):
            argument = value.removeprefix("language-")
        elif (name, attribute) in (("span", "class"), ("tg-emoji", "emoji-id")):
            argument = value
    if name == "span" and argument != "tg-spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    return _OpenTag(name, argument, 0), end + 1


def _attribute_value(text: str, pos: int, tag_offset: int) -> tuple[str, int]:
    if text[pos] in "'\"":
        quote, pos = text[pos], pos + 1
        value: list[str] = []
        while pos < len(text) and text[pos] != quote:
            if text[pos] == "&":
                char, pos = _html_char(text, pos)
                value.append(char)
            else:
                value.append(text[pos])
                pos += 1
        if pos >= len(text):
            raise EntityParseError(f"Unclosed start tag at byte offset {tag_offset}")
        return "".join(value), pos + 1
    match = _NAME_TOKEN.match(text, pos)
    assert match is not None  # the pattern accepts the empty string
    end = match.end()
    if end < len(text) and not text[end].isspace() and text[end] != ">":
        raise EntityParseError(
            f"Unexpected end of name token at byte offset {_byte_offset(text, pos)}"
        )
    return match.group().lower(), end


def _html_entity(tag: _OpenTag, end: int, inside_pre: _OpenTag | None) -> Entity | None:
    if tag.name in _HTML_SIMPLE:
        return _entity(_HTML_SIMPLE[tag.name], tag.start, end)
    if tag.name == "a":
        return _entity("text_link", tag.start, end, url=tag.argument) if tag.argument else None
    if tag.name == "tg-emoji":
        if not tag.argument.isdigit() or int(tag.argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        return _entity("custom_emoji", tag.start, end, custom_emoji_id=tag.argument)
    if tag.name == "code":
        if inside_pre is not None:
            # <pre><code class="language-x"> is one pre entity with a language.
            inside_pre.language = inside_pre.language or tag.argument
            return None
        return _entity("code", tag.start, end)
    if tag.name == "pre":
        if tag.language:
            return _entity("pre", tag.start, end, language=tag.language)
        return _entity("pre", tag.start, end)
    kind = "expandable_blockquote" if tag.argument == "expandable" else "blockquote"
    return _entity(kind, tag.start, end)


def _parse_html_raw(text: str) -> tuple[str, list[Entity]]:
    out = _Output()
    stack: list[_OpenTag] = []
    entities: list[Entity] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "&":
            decoded, pos = _html_char(text, pos)
            out.add(decoded)
            continue
        if char != "<":
            out.add(char)
            pos += 1
            continue
        if not text.startswith("</", pos):
            tag, pos = _parse_start_tag(text, pos)
            tag.start = out.utf16
            stack.append(tag)
            continue
        offset = _byte_offset(text, pos)
        end = pos + 2
        while end < len(text) and not text[end].isspace() and text[end] != ">":
            end += 1
        name = text[pos + 2 : end].lower()
        end = _skip_spaces(text, end)
        if end >= len(text) or text[end] != ">":
            raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
        tag = stack.pop()
        if name and name != tag.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {offset}, expected "</{tag.name}>", '
                f'found "</{name}>"'
            )
        parent_pre = stack[-1] if stack and stack[-1].name == "pre" else None
        entity = _html_entity(tag, out.utf16, parent_pre)
        if entity is not None:
            entities.append(entity)
        pos = end + 1
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.text(), entities


def parse_html(text: str) -> str:
    """Return the plain text Telegram keeps from ``text`` sent with ``parse_mode=HTML``.

    Raises :class:`EntityParseError` where Telegram would refuse the message.
    """
    return parse_formatted(text, "HTML")[0]


# --------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "code": "Code", "pre": "Pre",
    "text_link": "TextUrl", "custom_emoji": "CustomEmoji",
}  # fmt: skip


@dataclass
class _OpenMd:
    """An entity whose closing marker has not been seen yet."""

    kind: str
    start: int  # UTF-16 offset in the output, for the entity
    source: int  # index in the input, for error messages
    first_char: int = 0  # index in the output, for links whose URL is their own text
    language: str = ""


def _mdv2_closes(kind: str, text: str, pos: int) -> bool:
    char, rest = text[pos], text[pos + 1 : pos + 3]
    return {
        "bold": char == "*",
        "italic": char == "_" and rest[:1] != "_",
        "underline": char == "_" and rest[:1] == "_",
        "strikethrough": char == "~",
        "spoiler": char == "|" and rest[:1] == "|",
        "code": char == "`",
        "pre": char == "`" and rest == "``",
        "text_link": char == "]",
        "custom_emoji": char == "]",
    }[kind]


def _mdv2_url(text: str, pos: int) -> tuple[str, int]:
    """Read ``(url)`` starting at ``pos`` (the ``(``), honouring backslash escapes."""
    start, pos = pos + 1, pos + 1
    url: list[str] = []
    while pos < len(text) and text[pos] != ")":
        if text[pos] == "\\" and pos + 1 < len(text) and 0 < ord(text[pos + 1]) <= 126:
            url.append(text[pos + 1])
            pos += 2
            continue
        url.append(text[pos])
        pos += 1
    if pos >= len(text):
        offset = _byte_offset(text, start)
        raise EntityParseError(f"Can't find end of a URL at byte offset {offset}")
    return "".join(url), pos + 1


def _mdv2_open(text: str, pos: int, out: _Output) -> tuple[_OpenMd, int]:
    char, nxt, start = text[pos], text[pos + 1 : pos + 2], out.utf16
    if char == "_" and nxt == "_":
        return _OpenMd("underline", start, pos), pos + 2
    if char in "_*~[":
        kind = {"_": "italic", "*": "bold", "~": "strikethrough", "[": "text_link"}[char]
        return _OpenMd(kind, start, pos, out.chars), pos + 1
    if char == "|" and nxt == "|":
        return _OpenMd("spoiler", start, pos), pos + 2
    if char == "!" and nxt == "[":
        return _OpenMd("custom_emoji", start, pos), pos + 2
    if char == "`" and text.startswith("``", pos + 1):
        end = pos + 3
        lang_end = end
        while lang_end < len(text) and not text[lang_end].isspace() and text[lang_end] != "`":
            lang_end += 1
        language = ""
        if lang_end > end and lang_end < len(text) and text[lang_end] != "`":
            language, end = text[end:lang_end], lang_end
        if text.startswith(("\r\n", "\n\r"), end):
            end += 2
        elif text.startswith(("\n", "\r"), end):
            end += 1
        return _OpenMd("pre", start, pos, language=language), end
    if char == "`":
        return _OpenMd("code", start, pos), pos + 1
    raise EntityParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _mdv2_close(text: str, pos: int, top: _OpenMd, out: _Output) -> tuple[Entity | None, int]:
    end = out.utf16
    if top.kind in ("underline", "spoiler"):
        return _entity(top.kind, top.start, end), pos + 2
    if top.kind == "pre":
        extra = {"language": top.language} if top.language else {}
        return _entity("pre", top.start, end, **extra), pos + 3
    if top.kind == "text_link":
        if text.startswith("(", pos + 1):
            url, after = _mdv2_url(text, pos + 1)
        else:
            url, after = out.text()[top.first_char :], pos + 1
        return _entity("text_link", top.start, end, url=url), after
    if top.kind == "custom_emoji":
        if not text.startswith("(", pos + 1):
            raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
        url, after = _mdv2_url(text, pos + 1)
        emoji_id = url.removeprefix("tg://emoji?id=")
        if emoji_id == url or not emoji_id.isdigit():
            raise EntityParseError(f"Invalid custom emoji URL {url!r}")
        return _entity("custom_emoji", top.start, end, custom_emoji_id=emoji_id), after
    return _entity(top.kind, top.start, end), pos + 1


def _parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    """MarkdownV2, including ``>`` quotes and ``**>`` ... ``||`` expandable quotes."""
    out = _Output()
    stack: list[_OpenMd] = []
    entities: list[Entity | None] = []
    quote: _OpenMd | None = None
    pos = 0
    while pos < len(text):
        in_code = bool(stack) and stack[-1].kind in ("code", "pre")
        if not in_code and (pos == 0 or text[pos - 1] == "\n"):
            is_expandable = text.startswith("**>", pos)
            if text.startswith(">", pos) or is_expandable:
                if quote is None:
                    kind = "expandable_blockquote" if is_expandable else "blockquote"
                    quote = _OpenMd(kind, out.utf16, pos)
                pos += 3 if is_expandable else 1
                continue
            if quote is not None:
                # The quote ended with the previous line; its newline is not part of it.
                entities.append(_entity(quote.kind, quote.start, out.utf16 - 1))
                quote = None
        char = text[pos]
        if char == "\\" and pos + 1 < len(text) and 0 < ord(text[pos + 1]) <= 126:
            out.add(text[pos + 1])
            pos += 2
            continue
        if (in_code and char != "`") or char not in _MDV2_RESERVED:
            out.add(char)
            pos += 1
            continue
        if (
            quote is not None
            and quote.kind == "expandable_blockquote"
            and text.startswith("||", pos)
            and (not stack or stack[-1].kind != "spoiler")
            and text[pos + 2 : pos + 3] in ("", "\n")
        ):
            entities.append(_entity(quote.kind, quote.start, out.utf16))
            quote = None
            pos += 2
            continue
        if stack and _mdv2_closes(stack[-1].kind, text, pos):
            entity, pos = _mdv2_close(text, pos, stack.pop(), out)
            entities.append(entity)
            continue
        opened, pos = _mdv2_open(text, pos, out)
        stack.append(opened)
    if stack:
        top = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[top.kind]} entity at byte offset "
            f"{_byte_offset(text, top.source)}"
        )
    if quote is not None:
        entities.append(_entity(quote.kind, quote.start, out.utf16))
    return out.text(), [e for e in entities if e is not None]


# ----------------------------------------------------------------- legacy Markdown

_MD_KINDS = {"_": "italic", "*": "bold", "`": "code", "[": "text_link"}


def _parse_markdown(text: str) -> tuple[str, list[Entity]]:
    """Legacy Markdown: no nesting, only ``_ * ` [`` are special and escapable."""
    out = _Output()
    entities: list[Entity] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "\\" and text[pos + 1 : pos + 2] in ("_", "*", "`", "["):
            out.add(text[pos + 1])
            pos += 2
            continue
        if char not in _MD_KINDS:
            out.add(char)
            pos += 1
            continue
        begin = pos
        closing = "]" if char == "[" else char
        is_pre = text.startswith("```", pos)
        pos += 3 if is_pre else 1
        language = ""
        if is_pre:
            lang_end = pos
            while lang_end < len(text) and not text[lang_end].isspace() and text[lang_end] != "`":
                lang_end += 1
            if lang_end > pos and lang_end < len(text) and text[lang_end] != "`":
                language, pos = text[pos:lang_end], lang_end
            if text.startswith("\n", pos):
                pos += 1
        start = out.utf16
        end_marker = "```" if is_pre else closing
        close = text.find(end_marker, pos)
        if close < 0:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, begin)}"
            )
        out.add(text[pos:close])
        pos = close + len(end_marker)
        if is_pre:
            extra = {"language": language} if language else {}
            entity = _entity("pre", start, out.utf16, **extra)
        elif char == "[":
            url = ""
            if text.startswith("(", pos):
                url_end = text.find(")", pos)
                if url_end >= 0:
                    url, pos = text[pos + 1 : url_end], url_end + 1
            entity = _entity("text_link", start, out.utf16, url=url) if url else None
        else:
            entity = _entity(_MD_KINDS[char], start, out.utf16)
        if entity is not None:
            entities.append(entity)
    return out.text(), entities


_PARSERS = {"html": _parse_html_raw, "markdownv2": _parse_markdown_v2, "markdown": _parse_markdown}
PARSE_MODES = ("HTML", "MarkdownV2", "Markdown")


def parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Return the text and entities Telegram stores for ``text`` sent with ``parse_mode``.

    ``parse_mode`` is compared case-insensitively, as the Bot API does; ``None`` means
    plain text.  Surrounding whitespace is trimmed as Telegram trims it, so the length
    of the returned text is what the Bot API's character limits are checked against.
    """
    if parse_mode is None:
        return _strip(text, [])
    parser = _PARSERS.get(parse_mode.lower())
    if parser is None:
        raise EntityParseError(f"Unsupported parse_mode {parse_mode!r}")
    return _strip(*parser(text))
