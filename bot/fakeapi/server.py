"""An in-memory Telegram that answers Bot API calls the way the real service does.

Handlers under test talk to this through python-telegram-bot unchanged (see
``request.py`` and ``http.py``), so a test exercises the same serialisation, error
handling and retry code as production.  Every call is checked against the official
spec first: a call Telegram would refuse is answered with the same 400 *and* written
to :attr:`FakeBotApi.violations`, so a test can fail on it even when the bot code
swallows the error.

State is modelled only as far as bots observe it: chats, messages (per-chat ids, edits,
deletions), files, commands, pending updates.  Users are simulated by building the
``Update`` objects Telegram would send.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bot.fakeapi.formatting import EntityParseError, parse_formatted, utf16_len
from bot.fakeapi.spec import ApiSpec, UploadedFile

__all__ = ["Call", "FakeBotApi", "FakeUser", "Stats"]

JSONDict = dict[str, Any]

MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024  # getFile refuses larger files for cloud bots
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
# Update kinds Telegram withholds unless a bot asks for them via allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_TEXT_LENGTH = re.compile(r"^\w+\.(text|caption): must be \d+-\d+ characters after .*, got (\d+)$")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
_MESSAGE_CONTENT = (
    "text", "entities", "caption", "caption_entities", "photo", "document", "video",
    "voice", "audio", "animation", "sticker", "video_note", "location", "contact",
)  # fmt: skip
# Upload methods whose parameter, file kind and message field share one name.
_MEDIA_METHODS = {
    "sendPhoto": "photo", "sendDocument": "document", "sendVideo": "video",
    "sendVoice": "voice", "sendAudio": "audio", "sendAnimation": "animation",
    "sendSticker": "sticker", "sendVideoNote": "video_note",
}  # fmt: skip
_FOLDERS = {
    "photo": ("photos", ".jpg"), "document": ("documents", ""), "video": ("videos", ".mp4"),
    "voice": ("voice", ".oga"), "audio": ("music", ".mp3"), "animation": ("animations", ".mp4"),
    "sticker": ("stickers", ".webp"), "video_note": ("video_notes", ".mp4"),
}  # fmt: skip


@dataclass
class Call:
    """One request as the fake saw it (after decoding) and what it answered."""

    method: str
    params: dict[str, object]
    status: int
    response: JSONDict
    at: float = field(default_factory=time.monotonic)
    """When it was answered (the monotonic clock), for rates measured by benchmarks."""


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user to send updates as; ``id`` doubles as their private chat id."""

    id: int
    first_name: str = "Test"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_dict(self) -> JSONDict:
        """The ``User`` object Telegram puts in ``from``."""
        data = {"is_bot": False, **asdict(self)}
        return {key: value for key, value in data.items() if value is not None}


@dataclass
class Stats:
    """Counters for load tests: what was asked, refused for flooding, and delivered."""

    requests: int = 0
    rate_limited: int = 0
    delivered: int = 0
    rate_limited_chats: dict[int, int] = field(default_factory=dict)
    """Chat id → 429s for going over that chat's own limit."""


@dataclass
class _Failure:
    method: str | None
    status: int
    description: str
    retry_after: int | None
    remaining: int


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    content: bytes
    size: int
    path: str
    name: str | None = None
    mime_type: str | None = None


class _ApiError(Exception):
    """An error answer; raised from deep inside a handler, turned into a body in one place."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _as_int(value: object, name: str) -> int:
    """Ids arrive as ints in-process but may be numeric strings when validation is off."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise _bad_request(f"invalid {name} specified")


def _as_object(value: object) -> JSONDict | None:
    """Objects may still be JSON text when no spec was available to decode them."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _as_list(value: object) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return value if isinstance(value, list) else []


def _attach_names(value: object) -> Iterator[str]:
    """Names of multipart parts referenced as ``attach://name`` anywhere in ``value``."""
    if isinstance(value, str) and value.startswith("attach://"):
        yield value.removeprefix("attach://")
    elif isinstance(value, dict):
        for item in value.values():
            yield from _attach_names(item)
    elif isinstance(value, list):
        for item in value:
            yield from _attach_names(item)


def _telegram_wording(violation: str) -> str:
    """Telegram's own words for the refusals bot code commonly inspects, else the violation.

    Handlers catch "can't parse entities" to resend without formatting and "message is
    too long" to split, so those must read as Telegram writes them.
    """
    if "can't parse entities: " in violation:
        return violation[violation.index("can't parse entities: ") :]
    if length := _TEXT_LENGTH.match(violation):
        field, size = length.groups()
        if field == "caption":
            return "message caption is too long"
        return "message text is empty" if size == "0" else "message is too long"
    return violation


def _inline_markup(value: object) -> JSONDict | None:
    """The markup Telegram keeps on a message: inline keyboards only, empty means none."""
    markup = _as_object(value)
    return markup if markup and markup.get("inline_keyboard") else None


# Every method handler gets (method name, decoded parameters, multipart parts) so that
# one table can dispatch them all; most use only the parameters.
_Files = Mapping[str, UploadedFile]
_Handler = Callable[[str, JSONDict, _Files], object]


def _answer_true(method: str, params: JSONDict, files: _Files) -> bool:
    return True


class FakeBotApi:
    """The fake Telegram; see the module docstring for what it models and why.

    ``spec=None`` loads the shared spec; ``validate=False`` skips validation (and the
    spec, if none is given) for interactive use where the spec file may be missing.
    ``on_call`` is invoked with every finished :class:`Call`, e.g. to log traffic.
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "zhengfeng_test_bot",
        spec: ApiSpec | None = None,
        *,
        validate: bool = True,
        on_call: Callable[[Call], None] | None = None,
        local: bool = False,
    ) -> None:
        self.token = token
        self.local = local
        """As telegram-bot-api's `--local`: a webhook may be plain HTTP on any port."""
        self.bot_username = bot_username
        self.validate = validate
        self.spec = spec if spec is not None or not validate else ApiSpec.load()
        self.bot_user: JSONDict = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Zhengfeng Test",
            "username": bot_username,
        }
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.stats = Stats()
        self.callback_answers: dict[str, JSONDict] = {}
        self.webhook: JSONDict = {}
        self._on_call = on_call
        self._chats: dict[int, JSONDict] = {}
        self._messages: dict[int, dict[int, JSONDict]] = {}
        self._last_message_id: dict[int, int] = {}
        self._reply_keyboards: dict[int, JSONDict] = {}
        self._commands: dict[tuple[object, ...], list[JSONDict]] = {}
        self._menu_buttons: dict[int | None, JSONDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._update_ids = itertools.count(10_001)
        self._query_ids = itertools.count(1)
        self._media_group_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._pending: list[JSONDict] = []
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._wakeup: asyncio.Event | None = None
        self._wakeup_loop: asyncio.AbstractEventLoop | None = None
        self._blocked: set[int] = set()
        self._failures: list[_Failure] = []
        self._rate: float | None = None
        self.dropped: dict[str, int] = {}
        self.lost_answers: dict[str, int] = {}
        self.left_chats: set[int] = set()
        """Groups and channels the bot left (`leaveChat`)."""
        self._sent_at: deque[float] = deque()
        self._chat_limits: tuple[float, float, int] | None = None
        self._chat_tokens: dict[int, tuple[float, float]] = {}
        self._group_sent: dict[int, deque[float]] = {}
        self._handlers: dict[str, _Handler] = {
            "getMe": self._get_me,
            "logOut": _answer_true,
            "close": _answer_true,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
            "setMyCommands": self._set_commands,
            "getMyCommands": self._get_commands,
            "deleteMyCommands": self._delete_commands,
            "setChatMenuButton": self._set_menu_button,
            "getChatMenuButton": self._get_menu_button,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_text,
            "editMessageCaption": self._edit_caption,
            "editMessageReplyMarkup": self._edit_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback,
            "sendChatAction": self._send_chat_action,
            "sendMediaGroup": self._send_media_group,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "leaveChat": self._leave_chat,
            **dict.fromkeys(_MEDIA_METHODS, self._send_media),
        }

    # ================================================================ dispatching

    async def handle(
        self,
        method: str,
        params: Mapping[str, object],
        files: Mapping[str, UploadedFile] | None = None,
    ) -> tuple[int, JSONDict]:
        """Answer one Bot API call: ``(HTTP status, JSON body)`` exactly as Telegram would.

        ``files`` are the multipart parts of an upload.  A part that no
        ``attach://`` reference names is the value of the parameter of the same name,
        which is how python-telegram-bot uploads a single file.
        """
        self.stats.requests += 1
        uploads = dict(files or {})
        decoded = dict(params)
        referenced = set(_attach_names(decoded))
        for name, upload in uploads.items():
            if name not in referenced and name not in decoded:
                decoded[name] = upload
        if self.spec is not None:
            decoded = self.spec.normalize_call(method, decoded)
        problems = self._problems(method, decoded, referenced, uploads)
        if problems:
            self.violations.extend(problems)
            unknown = self.spec is not None and not self.spec.has_method(method)
            error = (
                _ApiError(404, "Not Found")
                if unknown
                else _bad_request(_telegram_wording(problems[0]))
            )
            status, body = error.status, error.body()
        else:
            status, body = await self._answer(method, decoded, uploads)
        if status == 429:
            self.stats.rate_limited += 1
        call = Call(method, decoded, status, body)
        self.calls.append(call)
        if self._on_call is not None:
            self._on_call(call)
        return status, body

    def _problems(
        self,
        method: str,
        params: JSONDict,
        referenced: set[str],
        uploads: Mapping[str, UploadedFile],
    ) -> list[str]:
        if not self.validate or self.spec is None:
            return []
        problems = self.spec.validate_call(method, params)
        problems += [
            f"{method}: attach://{name} names no uploaded file part"
            for name in sorted(referenced - set(uploads))
        ]
        return problems

    async def _answer(
        self, method: str, params: JSONDict, files: Mapping[str, UploadedFile]
    ) -> tuple[int, JSONDict]:
        try:
            self._raise_injected(method)
            delivery = method.startswith(("send", "copy", "forward", "edit"))
            if delivery and self._resolve_chat_id(params.get("chat_id")) in self._blocked:
                raise _ApiError(403, BLOCKED)
            if delivery and method != "sendChatAction":
                self._check_chat_rate(self._resolve_chat_id(params.get("chat_id")))
                self._check_rate()
            if method == "getUpdates":
                result: object = await self._get_updates(params)
            elif method in self._handlers:
                result = self._handlers[method](method, params, files)
            else:
                result = True  # a method the spec knows but this fake does not model
        except _ApiError as error:
            return error.status, error.body()
        return 200, {"ok": True, "result": copy.deepcopy(result)}

    def _raise_injected(self, method: str) -> None:
        for failure in self._failures:
            wildcard = failure.method is None and method != "getUpdates"
            if wildcard or failure.method == method:
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                raise _ApiError(failure.status, failure.description, failure.retry_after)

    def _check_rate(self) -> None:
        if self._rate is None:
            return
        # Below one message per second the window stretches so it still holds one.
        window = max(1.0, 1.0 / self._rate)
        now = time.monotonic()
        while self._sent_at and now - self._sent_at[0] >= window:
            self._sent_at.popleft()
        if len(self._sent_at) >= self._rate * window:
            retry_after = max(1, math.ceil(window - (now - self._sent_at[0])))
            raise _ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        self._sent_at.append(now)

    def _check_chat_rate(self, chat_id: int | None) -> None:
        """Telegram's per-chat limits: a private chat takes `burst` messages at once and then
        `per_second` (a token bucket); a group `group_per_minute` in any minute."""
        if self._chat_limits is None or chat_id is None:
            return
        per_second, burst, group_per_minute = self._chat_limits
        now = time.monotonic()
        if chat_id > 0:
            tokens, at = self._chat_tokens.get(chat_id, (float(burst), now))
            tokens = min(float(burst), tokens + (now - at) * per_second)
            if tokens < 1.0:
                self._refuse_chat(chat_id, (1.0 - tokens) / per_second)
            self._chat_tokens[chat_id] = (tokens - 1.0, now)
            return
        sent = self._group_sent.setdefault(chat_id, deque())
        while sent and now - sent[0] >= 60.0:
            sent.popleft()
        if len(sent) >= group_per_minute:
            self._refuse_chat(chat_id, 60.0 - (now - sent[0]))
        sent.append(now)

    def _refuse_chat(self, chat_id: int, wait: float) -> None:
        self.stats.rate_limited_chats[chat_id] = self.stats.rate_limited_chats.get(chat_id, 0) + 1
        retry_after = max(1, math.ceil(wait))
        raise _ApiError(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )

    def chat_limits(
        self, per_second: float | None = 1.0, burst: float = 3, group_per_minute: int = 20
    ) -> None:
        """Enforce Telegram's per-chat limits (None switches them off): 429 beyond them."""
        if per_second is not None and per_second <= 0:
            raise ValueError("per_second must be positive (or None to switch limiting off)")
        self._chat_limits = None if per_second is None else (per_second, burst, group_per_minute)
        self._chat_tokens.clear()
        self._group_sent.clear()

    # ============================================================ failure injection

    def block(self, chat_id: int) -> None:
        """Behave as if the user blocked the bot: sends and edits to the chat answer 403."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def fail_next(
        self,
        method: str | None,
        status: int,
        description: str,
        retry_after: int | None = None,
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` calls of ``method`` with this error.

        ``method=None`` matches any method except ``getUpdates``, so a background
        poller does not swallow an error meant for the code under test.  For 429 pass
        ``retry_after``; it is sent in ``parameters`` like Telegram does.
        """
        self._failures.append(_Failure(method, status, description, retry_after, count))

    def drop_next(self, method: str, count: int = 1) -> None:
        """Drop the connection of the next ``count`` calls of ``method``: the caller gets no
        answer at all (a network error), and the call has no effect."""
        self.dropped[method] = self.dropped.get(method, 0) + count

    def take_drop(self, method: str) -> bool:
        """Whether this call's connection is dropped (used by the transports)."""
        left = self.dropped.get(method, 0)
        if left <= 0:
            return False
        self.dropped[method] = left - 1
        return True

    def lose_answer_next(self, method: str, count: int = 1) -> None:
        """Carry out the next ``count`` calls of ``method`` but lose their answers: the caller
        gets a network error although the call took effect (a message was sent)."""
        self.lost_answers[method] = self.lost_answers.get(method, 0) + count

    def take_lost_answer(self, method: str) -> bool:
        """Whether this call's answer is lost after it was carried out (used by the transports)."""
        left = self.lost_answers.get(method, 0)
        if left <= 0:
            return False
        self.lost_answers[method] = left - 1
        return True

    def rate_limit(self, per_second: float | None) -> None:
        """Refuse sends and edits beyond ``per_second`` (sliding window) with 429; None = off."""
        if per_second is not None and per_second <= 0:
            raise ValueError("per_second must be positive (or None to switch limiting off)")
        self._rate = per_second
        self._sent_at.clear()

    # ================================================================== inspection

    def sent_messages(self, chat_id: int) -> list[JSONDict]:
        """Messages the bot sent to the chat and has not deleted, as they look now."""
        messages = self._messages.get(chat_id, {})
        return [
            copy.deepcopy(message)
            for _, message in sorted(messages.items())
            if message["from"]["id"] == self.bot_user["id"]
        ]

    def user_messages(self, chat_id: int) -> list[JSONDict]:
        """Messages people sent in the chat, as they look now (edits applied)."""
        messages = self._messages.get(chat_id, {})
        return [
            copy.deepcopy(message)
            for _, message in sorted(messages.items())
            if message.get("from", {}).get("id") != self.bot_user["id"]
        ]

    def last_message(self, chat_id: int) -> JSONDict:
        sent = self.sent_messages(chat_id)
        if not sent:
            raise LookupError(f"the bot has no messages in chat {chat_id}")
        return sent[-1]

    @staticmethod
    def buttons(message: Mapping[str, Any]) -> list[list[tuple[str, str | None]]]:
        """Rows of ``(text, callback_data or url)`` of a message's or a markup's keyboard.

        Accepts a message (its inline keyboard) or a markup dict such as the one from
        :meth:`reply_keyboard`; buttons without data or URL give ``None``.
        """
        markup = message.get("reply_markup", message)
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [
            [
                (button["text"], button.get("callback_data") or button.get("url"))
                if isinstance(button, dict)
                else (button, None)
                for button in row
            ]
            for row in rows
        ]

    def reply_keyboard(self, chat_id: int) -> JSONDict | None:
        """The custom reply keyboard the user currently sees in the chat, if any."""
        keyboard = self._reply_keyboards.get(chat_id)
        return copy.deepcopy(keyboard) if keyboard else None

    def commands(
        self,
        scope_type: str = "default",
        language_code: str = "",
        *,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> list[JSONDict]:
        """Commands set for a scope and language, as getMyCommands would return them."""
        key = (scope_type, chat_id, user_id, language_code)
        return copy.deepcopy(self._commands.get(key, []))

    def menu_button(self, chat_id: object = None) -> JSONDict | None:
        """The menu button set for the chat, else the bot-wide one, if any was set."""
        chat = self._resolve_chat_id(chat_id)
        button = self._menu_buttons.get(chat) or self._menu_buttons.get(None)
        return copy.deepcopy(button) if button else None

    def download(self, file_path: str) -> bytes | None:
        """The bytes served at ``<file base url><token>/<file_path>``; None if unknown."""
        for stored in self._files.values():
            if stored.path == file_path:
                return stored.content
        return None

    # ============================================================= simulated users

    def add_user(self, user: FakeUser) -> JSONDict:
        """Make the user's private chat known, as if they had pressed Start."""
        chat = {
            "id": user.id,
            "type": "private",
            **{
                key: value
                for key, value in user.to_dict().items()
                if key in ("first_name", "last_name", "username")
            },
        }
        self._chats[user.id] = chat
        return chat

    def enqueue_update(self, update: JSONDict) -> None:
        """Make ``update`` available to getUpdates (call from the event loop's thread)."""
        self._pending.append(update)
        if self._wakeup is not None:
            self._wakeup.set()

    def message_update(self, user: FakeUser, text: str) -> JSONDict:
        """A private text message; a leading ``/command`` gets its bot_command entity."""
        content: JSONDict = {"text": text}
        if command := _COMMAND.match(text):
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        return self._user_update(user, content)

    def photo_update(
        self,
        user: FakeUser,
        content: bytes,
        caption: str | None = None,
        *,
        file_size: int | None = None,
    ) -> JSONDict:
        """A photo; ``file_size`` overrides the reported size (e.g. to exceed 20 MB)."""
        stored = self._store_file("photo", content, size=file_size)
        return self._user_update(user, self._media_content(stored, caption))

    def document_update(
        self,
        user: FakeUser,
        content: bytes,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
        *,
        file_size: int | None = None,
    ) -> JSONDict:
        """A document; ``file_size`` overrides the reported size (e.g. to exceed 20 MB)."""
        stored = self._store_file(
            "document", content, name=file_name, mime_type=mime_type, size=file_size
        )
        return self._user_update(user, self._media_content(stored, caption))

    def sticker_update(self, user: FakeUser) -> JSONDict:
        stored = self._store_file("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ")
        return self._user_update(user, self._media_content(stored, None))

    def voice_update(self, user: FakeUser) -> JSONDict:
        stored = self._store_file("voice", b"OggS\x00fake voice")
        return self._user_update(user, self._media_content(stored, None))

    def video_update(self, user: FakeUser) -> JSONDict:
        stored = self._store_file("video", b"\x00\x00\x00\x18ftypmp42fake video")
        return self._user_update(user, self._media_content(stored, None))

    def location_update(
        self, user: FakeUser, latitude: float = 39.9042, longitude: float = 116.4074
    ) -> JSONDict:
        return self._user_update(user, {"location": {"latitude": latitude, "longitude": longitude}})

    def contact_update(self, user: FakeUser, phone_number: str) -> JSONDict:
        """The user sharing their own contact, as a ``request_contact`` button does."""
        contact = {
            "phone_number": phone_number,
            "first_name": user.first_name,
            "user_id": user.id,
        }
        if user.last_name:
            contact["last_name"] = user.last_name
        return self._user_update(user, {"contact": contact})

    def callback_update(
        self,
        user: FakeUser,
        message: Mapping[str, Any],
        data: str,
        *,
        check_button: bool = True,
    ) -> JSONDict:
        """The user pressing a button of a message the bot sent.

        Real clients can only send the ``callback_data`` of a button the message
        currently shows, so anything else raises ``ValueError`` unless
        ``check_button=False`` (to simulate a stale button from another device).
        """
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        current = self._messages.get(chat_id, {}).get(message_id)
        if current is None:
            raise ValueError(f"message {message_id} does not exist in chat {chat_id}")
        shown = [
            button.get("callback_data")
            for row in (current.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        ]
        if check_button and data not in shown:
            raise ValueError(f"message {message_id} shows no button with callback_data {data!r}")
        query_id = str(4_000_000_000_000_000 + next(self._query_ids))
        self._open_queries.add(query_id)
        return self._update(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_dict(),
                "message": current,
                "chat_instance": str((chat_id * 2_654_435_761) % 2**62),
                "data": data,
            },
        )

    def edited_message_update(
        self, user: FakeUser, message: Mapping[str, Any], text: str
    ) -> JSONDict:
        """The user editing one of their own earlier text messages."""
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        stored = self._messages[chat_id][message_id]
        stored["text"] = text
        stored["edit_date"] = int(time.time())
        return self._update("edited_message", stored)

    def channel_post_update(self, channel_id: int, text: str, title: str = "Channel") -> JSONDict:
        """A post in a channel the bot administers: nobody sent it as a person."""
        chat = {"id": channel_id, "type": "channel", "title": title}
        self._chats[channel_id] = chat
        content: JSONDict = {"text": text, "sender_chat": chat}
        if command := _COMMAND.match(text):
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        message_id = self._last_message_id.get(channel_id, 0) + 1
        self._last_message_id[channel_id] = message_id
        post = {"message_id": message_id, "chat": chat, "date": int(time.time()), **content}
        self._messages.setdefault(channel_id, {})[message_id] = post
        return self._update("channel_post", post)

    def added_to_group_update(self, user: FakeUser, group_id: int, title: str) -> JSONDict:
        """`user` adding the bot to a group (a `my_chat_member` update)."""
        chat = {"id": group_id, "type": "group", "title": title}
        self._chats[group_id] = chat
        return self._update(
            "my_chat_member",
            {
                "chat": chat,
                "from": user.to_dict(),
                "date": int(time.time()),
                "old_chat_member": {"user": self.bot_user, "status": "left"},
                "new_chat_member": {"user": self.bot_user, "status": "member"},
            },
        )

    def group_message_update(self, user: FakeUser, group_id: int, text: str) -> JSONDict:
        """A text in a group the bot is in (a leading /command gets its entity)."""
        content: JSONDict = {"text": text}
        if command := _COMMAND.match(text):
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        message = self._store_message(self._chats[group_id], user.to_dict(), content)
        return self._update("message", message)

    def _user_update(self, user: FakeUser, content: JSONDict) -> JSONDict:
        message = self._store_message(self.add_user(user), user.to_dict(), content)
        return self._update("message", message)

    def _update(self, kind: str, payload: JSONDict) -> JSONDict:
        return {"update_id": next(self._update_ids), kind: copy.deepcopy(payload)}

    # ======================================================= chats, messages, files

    def _resolve_chat_id(self, chat_id: object) -> int | None:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            wanted = chat_id[1:].lower()
            return next(
                (cid for cid, chat in self._chats.items()
                 if str(chat.get("username", "")).lower() == wanted),
                None,
            )  # fmt: skip
        try:
            return _as_int(chat_id, "chat_id")
        except _ApiError:
            return None

    def _chat(self, chat_id: object) -> JSONDict:
        resolved = self._resolve_chat_id(chat_id)
        if resolved is None or resolved not in self._chats:
            raise _bad_request("chat not found")
        return self._chats[resolved]

    def _store_message(self, chat: JSONDict, sender: JSONDict, content: JSONDict) -> JSONDict:
        chat_id = chat["id"]
        message_id = self._last_message_id.get(chat_id, 0) + 1
        self._last_message_id[chat_id] = message_id
        message = {
            "message_id": message_id,
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        self._messages.setdefault(chat_id, {})[message_id] = message
        return message

    def _store_file(
        self,
        kind: str,
        content: bytes,
        *,
        name: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
    ) -> _StoredFile:
        number = next(self._file_numbers)
        folder, default_suffix = _FOLDERS[kind]
        suffix = PurePosixPath(name).suffix if name else default_suffix
        stored = _StoredFile(
            file_id=f"FAKE{kind.upper()}{number:08d}",
            file_unique_id=f"U{number:08d}",
            kind=kind,
            content=content,
            size=len(content) if size is None else size,
            path=f"{folder}/file_{number}{suffix}",
            name=name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        return stored

    def _input_file(self, value: object, files: _Files, kind: str) -> _StoredFile:
        """Resolve an InputFile parameter: an upload, an attach:// part, a file_id or a URL."""
        if kind not in _FOLDERS:
            raise _bad_request(f"media of type {kind!r} is not modelled by the fake Bot API")
        if isinstance(value, str) and value.startswith("attach://"):
            value = files.get(value.removeprefix("attach://"), value)
        if isinstance(value, UploadedFile):
            if not value.content:
                raise _bad_request("file must be non-empty")
            return self._store_file(
                kind, value.content, name=value.filename, mime_type=value.mime_type
            )
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return self._store_file(kind, b"", name=PurePosixPath(urlsplit(value).path).name)
        stored = self._files.get(value) if isinstance(value, str) else None
        if stored is None:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise _bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored

    def _media_content(self, stored: _StoredFile, caption: str | None) -> JSONDict:
        """The message fields for a file, shaped like the matching Bot API media type."""
        base: JSONDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        extra: dict[str, JSONDict] = {
            "photo": {"width": 1280, "height": 960},
            "video": {"width": 1280, "height": 720, "duration": 5, "mime_type": "video/mp4"},
            "animation": {"width": 480, "height": 270, "duration": 3},
            "voice": {"duration": 3, "mime_type": "audio/ogg"},
            "audio": {"duration": 30, "mime_type": "audio/mpeg"},
            "sticker": {
                "type": "regular", "width": 512, "height": 512,
                "is_animated": False, "is_video": False, "emoji": "👍",
            },
            "video_note": {"length": 240, "duration": 5},
        }  # fmt: skip
        media = {**base, **extra.get(stored.kind, {})}
        if stored.kind in ("document", "audio", "animation", "video") and stored.name:
            media["file_name"] = stored.name
        if stored.kind == "document" and stored.mime_type:
            media["mime_type"] = stored.mime_type
        content: JSONDict = {stored.kind: [media] if stored.kind == "photo" else media}
        if caption is not None:
            content["caption"] = caption
        return content

    # ====================================================================== methods

    def _get_me(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self.webhook.get("url"):
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        allowed = params.get("allowed_updates")
        if allowed is not None:
            self._allowed_updates = frozenset(_as_list(allowed)) or None
        if "offset" in params:
            offset = _as_int(params["offset"], "offset")
            # A negative offset keeps only the last -offset updates.
            self._pending = (
                self._pending[offset:]
                if offset < 0
                else [u for u in self._pending if u["update_id"] >= offset]
            )
        limit = min(max(_as_int(params.get("limit", 100), "limit"), 1), 100)
        timeout = max(_as_int(params.get("timeout", 0), "timeout"), 0)
        loop = asyncio.get_running_loop()
        if self._wakeup is None or self._wakeup_loop is not loop:
            self._wakeup, self._wakeup_loop = asyncio.Event(), loop
        wakeup = self._wakeup
        self._poll_generation += 1
        generation = self._poll_generation
        wakeup.set()  # an older long poll still waiting must now end with 409
        deadline = loop.time() + timeout
        while True:
            self._pending = [u for u in self._pending if self._is_allowed(u)]
            if self._pending:
                return self._pending[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            wakeup.clear()
            try:
                async with asyncio.timeout(remaining):
                    await wakeup.wait()
            except TimeoutError:
                return []
            if generation != self._poll_generation:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )

    def _is_allowed(self, update: JSONDict) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed_updates is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _set_webhook(self, method: str, params: JSONDict, files: _Files) -> bool:
        url = str(params.get("url", ""))
        if not url:
            return self._delete_webhook(method, params, files)
        parts = urlsplit(url)
        if self.local and parts.scheme in ("http", "https"):
            pass  # a local server posts wherever it is told
        elif parts.scheme != "https":
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        elif parts.port not in (None, 80, 88, 443, 8443):
            raise _bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {key: value for key, value in params.items() if key != "certificate"}
        self.webhook["has_custom_certificate"] = "certificate" in params
        return True

    def _delete_webhook(self, method: str, params: JSONDict, files: _Files) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self.webhook = {}
        return True

    def _webhook_info(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": self.webhook.get("has_custom_certificate", False),
            "pending_update_count": len(self._pending),
        }
        for key in ("max_connections", "allowed_updates"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        return info

    def _get_commands(self, method: str, params: JSONDict, files: _Files) -> list[JSONDict]:
        return self._commands.get(self._commands_key(params), [])

    def _delete_commands(self, method: str, params: JSONDict, files: _Files) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _get_menu_button(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        return self.menu_button(params.get("chat_id")) or {"type": "default"}

    def _send_chat_action(self, method: str, params: JSONDict, files: _Files) -> bool:
        self._chat(params["chat_id"])
        return True

    def _commands_key(self, params: JSONDict) -> tuple[object, ...]:
        scope = _as_object(params.get("scope")) or {"type": "default"}
        chat_id = self._resolve_chat_id(scope["chat_id"]) if "chat_id" in scope else None
        user_id = scope.get("user_id")
        return (scope.get("type"), chat_id, user_id, params.get("language_code", ""))

    def _set_commands(self, method: str, params: JSONDict, files: _Files) -> bool:
        commands = _as_list(params.get("commands"))
        key = self._commands_key(params)
        if commands:
            self._commands[key] = commands
        else:
            self._commands.pop(key, None)
        return True

    def _set_menu_button(self, method: str, params: JSONDict, files: _Files) -> bool:
        chat_id = params.get("chat_id")
        key = None if chat_id is None else self._chat(chat_id)["id"]
        self._menu_buttons[key] = _as_object(params.get("menu_button")) or {"type": "default"}
        return True

    def _formatted(self, params: Mapping[str, Any], field: str, entities_field: str) -> JSONDict:
        """The stored text or caption and its entities, parsed per ``parse_mode``."""
        raw = params.get(field)
        if raw is None:
            return {}
        try:
            text, entities = parse_formatted(str(raw), params.get("parse_mode"))
        except EntityParseError as exc:
            raise _bad_request(f"can't parse entities: {exc}") from exc
        given = params.get(entities_field)
        if given is not None and params.get("parse_mode") is None:
            entities = _as_list(given)
        content: JSONDict = {field: text}
        if entities:
            content[entities_field] = entities
        return content

    def _deliver(self, params: JSONDict, content: JSONDict) -> JSONDict:
        """Store a message from the bot, applying reply and keyboard parameters."""
        chat = self._chat(params["chat_id"])
        reply = _as_object(params.get("reply_parameters"))
        if reply is not None:
            source = self._chat(reply.get("chat_id", chat["id"]))
            message_id = reply.get("message_id")
            replied = (
                self._messages.get(source["id"], {}).get(message_id)
                if isinstance(message_id, int)
                else None
            )
            if replied is not None:
                content["reply_to_message"] = {
                    key: value for key, value in replied.items() if key != "reply_to_message"
                }
            elif not reply.get("allow_sending_without_reply"):
                raise _bad_request("message to be replied not found")
        markup = _as_object(params.get("reply_markup")) or {}
        if markup.get("keyboard"):
            self._reply_keyboards[chat["id"]] = markup
        elif markup.get("remove_keyboard"):
            self._reply_keyboards.pop(chat["id"], None)
        if inline := _inline_markup(markup):
            content["reply_markup"] = inline
        self.stats.delivered += 1
        return self._store_message(chat, self.bot_user, content)

    def _send_message(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        content = self._formatted(params, "text", "entities")
        if not content.get("text"):
            raise _bad_request("message text is empty")
        return self._deliver(params, content)

    def _send_media(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        kind = _MEDIA_METHODS[method]
        stored = self._input_file(params.get(kind), files, kind)
        content = self._media_content(stored, None)
        content.update(self._formatted(params, "caption", "caption_entities"))
        return self._deliver(params, content)

    def _send_media_group(self, method: str, params: JSONDict, files: _Files) -> list[JSONDict]:
        group_id = str(13_000_000_000_000_000 + next(self._media_group_ids))
        sent = []
        for item in _as_list(params.get("media")):
            stored = self._input_file(item.get("media"), files, item.get("type", ""))
            content = self._media_content(stored, None)
            content.update(self._formatted(item, "caption", "caption_entities"))
            content["media_group_id"] = group_id
            sent.append(self._deliver(params, content))
        return sent

    def _source_message(self, params: JSONDict, action: str) -> JSONDict:
        chat = self._chat(params["from_chat_id"])
        message_id = _as_int(params["message_id"], "message_id")
        source = self._messages.get(chat["id"], {}).get(message_id)
        if source is None:
            raise _bad_request(f"message to {action} not found")
        return source

    def _copy_message(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        source = self._source_message(params, "copy")
        content = {key: source[key] for key in _MESSAGE_CONTENT if key in source}
        if "caption" in params:
            content.pop("caption_entities", None)
            content.update(self._formatted(params, "caption", "caption_entities"))
        return {"message_id": self._deliver(params, content)["message_id"]}

    def _forward_message(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        source = self._source_message(params, "forward")
        content = {key: source[key] for key in _MESSAGE_CONTENT if key in source}
        content["forward_origin"] = {
            "type": "user",
            "sender_user": source["from"],
            "date": source["date"],
        }
        return self._deliver(params, content)

    def _editable(self, params: JSONDict) -> JSONDict | None:
        """The bot's message an edit targets; None for inline messages, which are not stored."""
        if params.get("inline_message_id") is not None:
            return None
        if "chat_id" not in params or "message_id" not in params:
            raise _bad_request("message identifier is not specified")
        chat = self._chat(params["chat_id"])
        message_id = _as_int(params["message_id"], "message_id")
        message = self._messages.get(chat["id"], {}).get(message_id)
        if message is None:
            raise _bad_request("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _bad_request("message can't be edited")
        return message

    def _apply_edit(
        self, message: JSONDict, content: JSONDict, fields: tuple[str, ...], markup: object
    ) -> JSONDict:
        """Replace ``fields`` and the inline keyboard, refusing edits that change nothing.

        Omitting ``reply_markup`` removes the keyboard, as it does on Telegram.
        """
        new_markup = _inline_markup(markup)
        before = [message.get(name) for name in fields] + [message.get("reply_markup")]
        after = [content.get(name) for name in fields] + [new_markup]
        if before == after:
            raise _bad_request(NOT_MODIFIED)
        for name in fields:
            if content.get(name) is None:
                message.pop(name, None)
            else:
                message[name] = content[name]
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = int(time.time())
        return message

    def _edit_text(self, method: str, params: JSONDict, files: _Files) -> JSONDict | bool:
        message = self._editable(params)
        if message is None:
            return True
        if "text" not in message:
            raise _bad_request("there is no text in the message to edit")
        content = self._formatted(params, "text", "entities")
        if not content.get("text"):
            raise _bad_request("message text is empty")
        return self._apply_edit(message, content, ("text", "entities"), params.get("reply_markup"))

    def _edit_caption(self, method: str, params: JSONDict, files: _Files) -> JSONDict | bool:
        message = self._editable(params)
        if message is None:
            return True
        if not any(kind in message for kind in _FOLDERS):
            raise _bad_request("there is no caption in the message to edit")
        content = self._formatted(params, "caption", "caption_entities")
        fields = ("caption", "caption_entities")
        return self._apply_edit(message, content, fields, params.get("reply_markup"))

    def _edit_markup(self, method: str, params: JSONDict, files: _Files) -> JSONDict | bool:
        message = self._editable(params)
        if message is None:
            return True
        return self._apply_edit(message, {}, (), params.get("reply_markup"))

    def _delete_message(self, method: str, params: JSONDict, files: _Files) -> bool:
        chat = self._chat(params["chat_id"])
        message_id = _as_int(params["message_id"], "message_id")
        if self._messages.get(chat["id"], {}).pop(message_id, None) is None:
            raise _bad_request("message to delete not found")
        return True

    def _answer_callback(self, method: str, params: JSONDict, files: _Files) -> bool:
        query_id = str(params["callback_query_id"])
        if query_id not in self._open_queries:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self._open_queries.discard(query_id)
        self.callback_answers[query_id] = {
            key: value for key, value in params.items() if key != "callback_query_id"
        }
        return True

    def _get_file(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        stored = self._files.get(str(params["file_id"]))
        if stored is None:
            raise _bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD_SIZE:
            raise _bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.path,
        }

    def _leave_chat(self, method: str, params: JSONDict, files: _Files) -> object:
        chat = self._chat(params["chat_id"])
        self.left_chats.add(int(chat["id"]))
        return True

    def _get_chat(self, method: str, params: JSONDict, files: _Files) -> JSONDict:
        return {
            **self._chat(params["chat_id"]),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
