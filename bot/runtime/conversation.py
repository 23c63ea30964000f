"""Building ConversationHandlers the way every flow of the product needs them, and the filters
their steps share.

The filters are defined once so that "a typed answer" or "anything but text" means the same in
every flow: a step that waits for text answers everything else by asking again, never by silence.
"""

from __future__ import annotations

import warnings
from enum import IntEnum
from typing import Any

from telegram.ext import ConversationHandler, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.runtime.services import BotContext, Handler
from bot.runtime.turn import Turn, turn_handler

END = ConversationHandler.END
PRIVATE = filters.ChatType.PRIVATE
TEXT = filters.TEXT & ~filters.COMMAND & PRIVATE
"""A typed answer (a command is never an answer)."""
MEDIA = (filters.PHOTO | filters.Document.ALL) & PRIVATE
NOT_TEXT = ~filters.TEXT & ~filters.COMMAND & PRIVATE
"""Anything but text: what a text-only step answers by asking again."""
NOT_TEXT_OR_FILE = (
    ~filters.TEXT & ~filters.COMMAND & ~filters.PHOTO & ~filters.Document.ALL & PRIVATE
)
"""Anything but text, photos and documents (stickers, voice, video …): for steps that take files,
or that leave files to a handler of their own."""


def conversation(**kwargs: Any) -> ConversationHandler[BotContext]:
    """A conversation per person (chat and user), mixing text and button steps.

    python-telegram-bot warns that button presses are then not tracked per message. That is what
    we want: one conversation per person, and every button checks on the server whether it is
    still valid (stale buttons get a clear refusal), so the warning is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
        return ConversationHandler(**kwargs)


def stay_in(state: IntEnum) -> Handler:
    """Anything but text while a typed step is open: ask for text again, stay in `state`."""

    async def reask(turn: Turn) -> IntEnum:
        turn.say(turn._("Please answer with text, or /cancel."))
        return state

    reask.__name__ = f"reask_{state.name.lower()}"
    return MessageHandler(NOT_TEXT, turn_handler(reask))
