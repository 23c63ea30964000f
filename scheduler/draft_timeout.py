"""Close reports left half-typed for too long, after a restart too.

python-telegram-bot keeps its conversation timeouts in memory only (its issue #2770), so the
draft table is the clock: a draft untouched for the idle timeout is discarded here and its author
told, and the report flow ends any step whose draft is gone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram.error import Forbidden, TelegramError

from bot.i18n import gettext_for
from bot.services import BotContext
from db.drafts import Draft, expired_drafts
from db.files import remove_if_unreferenced
from db.models import Account

log = logging.getLogger(__name__)


async def sweep_idle_drafts(context: BotContext) -> int:
    services = context.services
    idle_minutes = services.settings.conversation.idle_timeout_minutes
    now = services.clock()
    notices: list[tuple[int, str]] = []
    async with services.sessions() as session:
        rows = await expired_drafts(session, now, timedelta(minutes=idle_minutes))
        paths: list[str] = []
        for row in rows:
            paths.extend(a.path for a in Draft.from_json(row.data).attachments)
            account = await session.get(Account, row.account_id)
            await session.delete(row)
            if account is not None and not account.unreachable:
                notices.append((account.telegram_id, account.language))
        await session.flush()
        await remove_if_unreferenced(session, services.settings.attachments_dir, paths)
        await session.commit()
    for chat_id, language in notices:
        _ = gettext_for(language)
        text = _(
            "Your unfinished report was closed after {minutes} minutes without activity, and "
            "what you had entered was discarded. Send /report to start again."
        ).format(minutes=idle_minutes)
        try:
            await context.bot.send_message(chat_id, text)
        except Forbidden:
            log.info("idle-draft notice not delivered: recipient blocked the bot")
        except TelegramError:
            log.warning("idle-draft notice not delivered", exc_info=True)
    return len(rows)
