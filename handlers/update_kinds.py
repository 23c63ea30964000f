"""Updates that are not a person's new message or press in a private chat, each with an owner.

- An edited message is not taken as an answer (an edited description used to become the next
  step's answer): the person is asked to send the correction as a new message, and no flow
  sees the edit. Correcting a step is what the summary's Edit button is for.
- A channel post, and any update without a person behind it, is ignored on purpose: there is
  nobody to answer and no account to attach it to.
- Added to a group, the bot says once that it works in private chats, where nobody sees who
  reports, and leaves the group; messages in groups get no answer.

- A person sending faster than a person can (`bot.runtime.flood`) is told once to slow down;
  what they send for a while after that is dropped before any flow sees it.

Registered in groups -3 to -1, before every flow, so none of these reaches a conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import ChatMemberUpdated, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import (
    ApplicationHandlerStop,
    ChatMemberHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import gettext_for, normalize_language
from bot.runtime.reply_calls import call
from bot.runtime.services import BotContext, Handler
from bot.runtime.turn import Turn, turn_handler

log = logging.getLogger(__name__)

JOINED = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR})
GROUPS = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})


@turn_handler
async def _say_edits_are_not_taken(turn: Turn) -> None:
    turn.say(
        turn._(
            "Edited messages are not taken. Please send the corrected text as a new message; "
            "in a report, use Edit on the summary to change an earlier answer."
        )
    )


async def edited(update: Update, context: BotContext) -> None:
    """Answer an edit, and keep it from every flow."""
    await _say_edits_are_not_taken(update, context)
    raise ApplicationHandlerStop


async def without_person(update: Update, context: BotContext) -> None:
    """Channel posts and other updates nobody sent as a person: ignored on purpose."""
    if update.effective_user is None:
        raise ApplicationHandlerStop


async def flood_gate(update: Update, context: BotContext) -> None:
    """Past the limit, say so once (the update processor counted this update on arrival and
    drops the ones after it unread).

    No database and no flow: a flood must cost the bot as little as possible."""
    user = update.effective_user
    if user is None:
        return
    if context.services.flood.take_warning(update.update_id):
        settings = context.services.settings
        _ = gettext_for(normalize_language(user.language_code, settings.default_language))
        text = _(
            "You are sending messages faster than I can read them. Please wait a minute, then "
            "send again: what you send until then is not read."
        )
        log.info(
            "a person sent more than %d updates in %.0f s",
            settings.flood.updates,
            settings.flood.seconds,
        )
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            chat_id = chat.id
            await call(
                "sendMessage", lambda: context.bot.send_message(chat_id, text), repeatable=False
            )
        raise ApplicationHandlerStop


async def in_group(update: Update, context: BotContext) -> None:
    """Messages in groups: the notice was given when the bot was added; nothing more."""
    raise ApplicationHandlerStop


async def added_to_group(update: Update, context: BotContext) -> None:
    """Say once, in the group, that reporting happens in private chats; then leave it."""
    member: ChatMemberUpdated | None = update.my_chat_member
    if member is None or member.chat.type not in GROUPS:
        raise ApplicationHandlerStop
    if member.new_chat_member.status not in JOINED or member.old_chat_member.status in JOINED:
        raise ApplicationHandlerStop
    language = normalize_language(
        member.from_user.language_code, context.services.settings.default_language
    )
    _ = gettext_for(language)
    text = _(
        "To protect reporters, I work only in private chats: open a chat with me to file or "
        "follow a report. I am leaving this group."
    )
    chat_id = member.chat.id
    await call("sendMessage", lambda: context.bot.send_message(chat_id, text), repeatable=False)
    await call("leaveChat", lambda: context.bot.leave_chat(chat_id), repeatable=True)
    raise ApplicationHandlerStop


def build_handlers() -> dict[int, Sequence[Handler]]:
    """By handler group: in one group only the first matching handler runs, and every update
    must first pass the check for a person."""
    return {
        -3: [TypeHandler(Update, flood_gate)],
        -2: [TypeHandler(Update, without_person)],
        -1: [
            ChatMemberHandler(added_to_group, ChatMemberHandler.MY_CHAT_MEMBER),
            MessageHandler(filters.UpdateType.EDITED & PRIVATE, edited),
            MessageHandler(filters.ChatType.GROUPS, in_group),
        ],
    }
