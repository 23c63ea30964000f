"""Close reports left half-typed for too long, after a restart too.

python-telegram-bot keeps its conversation timeouts in memory only (its issue #2770), so the
draft table is the clock: a draft untouched for the idle timeout is discarded here and its author
told, and the report flow ends any step whose draft is gone.
"""

from __future__ import annotations

from datetime import timedelta

from bot.runtime.i18n import gettext_for
from bot.runtime.services import BotContext
from db.cases.drafts import remove_expired_drafts
from db.delivery.outbox import enqueue
from db.files import remove_if_unreferenced
from db.models import Account


async def sweep_idle_drafts(context: BotContext) -> int:
    services = context.services
    idle_minutes = services.settings.conversation.idle_timeout_minutes
    now = services.clock()
    async with services.sessions() as session:
        rows = await remove_expired_drafts(session, now, timedelta(minutes=idle_minutes))
        paths: list[str] = []
        for row in rows:
            paths.extend(row.paths)
            account = await session.get(Account, row.account_id)
            if account is not None and not account.unreachable:
                _ = gettext_for(account.language)
                # In the same transaction as the deletion: the person is told exactly when the
                # draft is really gone.
                await enqueue(
                    session,
                    key=f"draft-closed:{row.account_id}:{row.updated_at.isoformat()}",
                    chat_id=account.telegram_id,
                    text=_(
                        "Your unfinished report was closed after {minutes} minutes without "
                        "activity, and what you had entered was discarded. Send /report to start "
                        "again."
                    ).format(minutes=idle_minutes),
                    urgent=True,
                    now=now,
                )
        await remove_if_unreferenced(session, services.settings.attachments_dir, paths)
        await session.commit()
    if rows and services.sender is not None:
        await services.sender.drain_once()
    return len(rows)
