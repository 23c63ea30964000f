"""One update, one database session, one commit, then the replies.

Handlers describe what to say; the replies go out only after the transaction committed, so a
person is never told "saved" about something that was rolled back.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError

from bot.runtime.i18n import Translator, gettext_for, normalize_language
from bot.runtime.reply_calls import call
from bot.runtime.services import BotContext, Services
from bot.runtime.stored_states import StateKey, committed
from db.delivery.outbox import ACK_PREFIX, Attachment, enqueue, pending_acks
from db.models import Account
from db.people.accounts import get_or_create_account, mark_unreachable

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
Keyboard = list[list[tuple[str, str]]]
"""Rows of (label, callback data); kept plain so handlers need no Telegram types."""

T = TypeVar("T")
UpdateCallback = Callable[[Update, BotContext], Coroutine[Any, Any, object]]
"""What python-telegram-bot calls for an update: a `turn_handler`-wrapped step."""
log = logging.getLogger(__name__)


def markup(rows: Keyboard | None) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


@dataclass
class Reply:
    text: str
    keyboard: Keyboard | None = None


@dataclass(frozen=True)
class OutgoingFile:
    """A photo or document: one Telegram already has, resent by its file id (a copy, not a
    forward: nothing of the original sender travels with it), or a file under the data dir."""

    kind: str
    """`photo` or `document`."""
    file_id: str | None = None
    path: str | None = None
    """Relative to the data dir."""
    name: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """A message to somebody else than the person of this update (a liaison, a reporter)."""

    chat_id: int
    text: str
    keyboard: Keyboard | None = None
    files: tuple[OutgoingFile, ...] = ()
    """Sent before the text, so the text's buttons stay at the bottom of the chat."""
    urgent: bool = False
    """Goes out even in quiet hours (a reporter's notices); officials' notices wait for the
    send window."""
    key: str | None = None
    """The outbox key of a notice that must go out at most once however often it is decided
    (the office's "remind now", once per liaison and day); None for a notice of its own."""
    expires_at: datetime | None = None
    """After this the notice is pointless (a round's invitation once the round has closed): a
    bot down until then records it expired instead of sending it."""


@dataclass
class Turn:
    update: Update
    context: BotContext
    session: AsyncSession
    account: Account
    replies: list[Reply] = field(default_factory=list)
    notices: list[Outgoing] = field(default_factory=list)
    """Written to the outbox in the handler's transaction, sent right after the replies."""
    toast: str | None = None
    clear_keyboard: bool = False
    """Remove the buttons of the pressed message, so it cannot be pressed again."""
    pressed_becomes: str | None = None
    """Replace the pressed question by the answer given, buttons removed, in one call."""
    after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Bot API calls that must only happen once the change behind them is committed (a
    person's command menu after a role change); each must log its own failures."""
    stored_states: dict[StateKey, object] = field(default_factory=dict)
    """Flow positions stored in this turn's transaction (see `bot.runtime.stored_states`)."""

    @property
    def services(self) -> Services:
        return self.context.services

    @property
    def account_id(self) -> int:
        assert self.account.id is not None
        return self.account.id

    @property
    def _(self) -> Translator:
        return gettext_for(self.account.language)

    @property
    def language(self) -> str:
        return self.account.language

    @property
    def now(self) -> datetime:
        return self.services.clock()

    @property
    def text(self) -> str:
        message = self.update.effective_message
        return (message.text or "") if message is not None else ""

    @property
    def callback_data(self) -> str | None:
        query = self.update.callback_query
        return query.data if query is not None else None

    def say(self, text: str, keyboard: Keyboard | None = None) -> None:
        self.replies.append(Reply(text, keyboard))

    def notify(self, messages: list[Outgoing]) -> None:
        self.notices.extend(messages)

    async def flush(self) -> None:
        """Send what the handler said; called after the commit. Each call stands on its own
        (`bot.runtime.reply_calls`): a failed toast or edit never costs the message itself."""
        replies = list(self.replies)
        query = self.update.callback_query
        if query is not None:
            await call("answerCallbackQuery", lambda: query.answer(self.toast), repeatable=True)
            if (self.pressed_becomes or self.clear_keyboard) and self._owns_press():
                replies = await self._rewrite_pressed(replies)
        chat = self.update.effective_chat
        if chat is None:
            return
        for reply in replies:
            await call(
                "sendMessage", self._sender(chat.id, reply), repeatable=False, text=reply.text
            )

    def _sender(self, chat_id: int, reply: Reply) -> Callable[[], Awaitable[object]]:
        def send() -> Awaitable[object]:
            return self.context.bot.send_message(
                chat_id,
                reply.text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(reply.keyboard),
                link_preview_options=NO_PREVIEW,
            )

        return send

    def _owns_press(self) -> bool:
        """Whether the pressed button is one of the message's own: a forged or replayed press
        (data the message does not carry) never changes a message's buttons."""
        query = self.update.callback_query
        message = query.message if query is not None else None
        if query is None or not isinstance(message, Message) or message.reply_markup is None:
            return False
        return any(
            button.callback_data == query.data
            for row in message.reply_markup.inline_keyboard
            for button in row
        )

    async def _rewrite_pressed(self, replies: list[Reply]) -> list[Reply]:
        """Turn the pressed question into the answer given and the next question.

        One edit instead of an edit and a new message: half the Bot API calls per button, a
        shorter chat, and the old buttons disappear. Returns what still has to be sent.
        """
        query = self.update.callback_query
        assert query is not None and query.message is not None
        cleared = self.services.cleared_messages
        pressed = (query.message.chat.id, query.message.message_id)
        parts = [p for p in (self.pressed_becomes, replies[0].text if replies else None) if p]
        if parts:
            edited = await call(
                "editMessageText",
                lambda: query.edit_message_text(
                    "\n\n".join(parts),
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup(replies[0].keyboard) if replies else None,
                    link_preview_options=NO_PREVIEW,
                ),
                repeatable=True,
                text=parts[-1],
                not_modified_is_done=True,
            )
            # Not edited (too old to edit, say): the answer goes out as a new message instead.
            return replies[1:] if edited else replies
        # A second press of the same button (a double tap) finds its buttons already gone:
        # removing them again is a call Telegram refuses.
        if pressed not in cleared and await call(
            "editMessageReplyMarkup",
            lambda: query.edit_message_reply_markup(reply_markup=None),
            repeatable=True,
            not_modified_is_done=True,
        ):
            cleared.remember(pressed)
        return replies


async def open_turn(update: Update, context: BotContext, session: AsyncSession) -> Turn:
    user = update.effective_user
    assert user is not None
    default = context.services.settings.default_language
    language = normalize_language(user.language_code, default)
    account, _ = await get_or_create_account(session, user.id, language)
    return Turn(update=update, context=context, session=session, account=account)


def turn_handler(
    fn: Callable[[Turn], Awaitable[T]],
) -> Callable[[Update, BotContext], Coroutine[Any, Any, T]]:
    """Wrap a handler step: open a session and account, run, queue notices, commit, reply, and
    send the notices."""

    @functools.wraps(fn)
    async def wrapper(update: Update, context: BotContext) -> T:
        services = context.services
        chat = update.effective_chat
        if chat is not None and chat.id in services.pending_ack_chats:
            await deliver_pending_acks(services, chat.id)
        async with services.sessions() as session:
            turn = await open_turn(update, context, session)
            result = await fn(turn)
            keys = await queue_notices(session, turn.notices, turn.now, services)
            await session.commit()
        committed(turn.stored_states)
        try:
            await turn.flush()
        except Forbidden:
            # Blocked mid-flow: what they typed is committed and the flow position must still
            # advance with it; remember not to write to them until they come back.
            async with services.sessions() as session:
                await mark_unreachable(session, turn.account.telegram_id)
                await session.commit()
            log.info("reply not delivered: the person blocked the bot")
        except TelegramError:
            # The answer is saved; the person can ask for the current question with /report.
            log.warning("reply not delivered", exc_info=True)
        for after in turn.after_commit:
            await after()
        if keys and services.sender is not None:
            await services.sender.send_now(keys)
        return result

    return wrapper


async def deliver_pending_acks(services: Services, chat_id: int) -> None:
    """Before anything else, the acknowledgement of a report this chat filed that Telegram has
    not confirmed yet (its number, and the receipt of an anonymous report): the person hears
    it before the answer to whatever they did next."""
    async with services.sessions() as session:
        keys = await pending_acks(session, chat_id)
    if keys and services.sender is not None:
        await services.sender.send_now(keys)
        async with services.sessions() as session:
            keys = await pending_acks(session, chat_id)
    if not keys:
        services.pending_ack_chats.discard(chat_id)


async def queue_notices(
    session: AsyncSession, notices: list[Outgoing], now: datetime, services: Services
) -> list[str]:
    """Put the notices in the outbox, in the handler's transaction: they exist exactly when what
    they announce was committed. Returns the keys of those queued now (a keyed notice queued
    before is not queued again), for sending at once after the commit."""
    keys = []
    grace = timedelta(seconds=services.settings.delivery.grace_seconds)
    for notice in notices:
        key = notice.key or f"notice:{uuid.uuid4().hex}"
        inserted = await enqueue(
            session,
            key=key,
            chat_id=notice.chat_id,
            text=notice.text,
            keyboard=notice.keyboard,
            files=[
                Attachment(kind=f.kind, file_id=f.file_id, path=f.path, name=f.name)
                for f in notice.files
            ],
            urgent=notice.urgent,
            now=now,
            not_before=now + grace,
            expires_at=notice.expires_at,
        )
        if inserted:
            keys.append(key)
            if key.startswith(ACK_PREFIX):
                services.pending_ack_chats.add(notice.chat_id)
    return keys
