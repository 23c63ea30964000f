"""The last line of defence: log the failure, tell the person politely, lose nothing."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot.runtime.i18n import gettext_for, normalize_language
from bot.runtime.services import BotContext
from db.people.accounts import mark_unreachable

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Answer every failed update; drafts were already saved, so say that nothing was lost."""
    error = context.error
    if not isinstance(update, Update):
        log.error("error outside an update", exc_info=error)
        return
    user = update.effective_user
    if isinstance(error, Forbidden):
        # The person blocked the bot: nobody to tell; remember it so nothing is sent in vain.
        if user is not None:
            async with context.services.sessions() as session:
                await mark_unreachable(session, user.id)
                await session.commit()
        log.info("recipient blocked the bot")
        return
    log.error("update %s failed", update.update_id, exc_info=error)
    chat = update.effective_chat
    if chat is None or user is None:
        return
    _ = gettext_for(normalize_language(user.language_code))
    if isinstance(error, RetryAfter | TimedOut | NetworkError):
        text = _("Telegram is busy right now. What you entered is saved; please try again shortly.")
    else:
        text = _(
            "Sorry, something went wrong on our side. What you entered so far is saved; "
            "please try again, or send /cancel to leave."
        )
    try:
        await context.bot.send_message(chat.id, text)
    except Exception:  # the apology itself failing must not raise again
        log.warning("could not send the error notice", exc_info=True)
