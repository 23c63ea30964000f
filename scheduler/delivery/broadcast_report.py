"""The delivery report of a broadcast, sent to its author once delivery is done.

A small repeating job: every broadcast without `reported_at` whose outbox rows are all sent or
failed (or that is older than a day) gets its report queued to the author, and `reported_at` is
set in the same transaction. The database is the only memory, so a restart neither loses nor
repeats a report.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.runtime.i18n import gettext_for
from bot.runtime.services import BotContext, Services
from db.delivery.broadcasts import due_reports, mark_reported
from db.delivery.outbox import enqueue
from db.models import Account

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 60
GIVE_UP_AFTER = timedelta(days=1)
"""Report with the pending count anyway: the author should not wait forever for a liaison's
message held back by Telegram errors."""


async def report_broadcasts(services: Services, now: datetime) -> int:
    """Queue the reports that are due; returns how many."""
    queued = 0
    async with services.sessions() as session:
        for broadcast, state in await due_reports(session, now, GIVE_UP_AFTER):
            author = (
                await session.get(Account, broadcast.author_account_id)
                if broadcast.author_account_id is not None
                else None
            )
            if author is not None and not author.unreachable:
                _ = gettext_for(author.language)
                text = _(
                    "Broadcast #{id}: delivered {delivered}, unreachable (blocked the bot) "
                    "{unreachable}, still pending {pending}."
                ).format(
                    id=broadcast.id,
                    delivered=state.delivered,
                    unreachable=state.failed + broadcast.unreachable,
                    pending=state.pending,
                )
                queued += await enqueue(
                    session,
                    key=f"broadcast-report:{broadcast.id}",
                    chat_id=author.telegram_id,
                    text=text,
                    now=now,
                )
            await mark_reported(session, broadcast, now)
        await session.commit()
    if queued:
        log.info("%d broadcast reports queued", queued)
    return queued


async def run_broadcast_reports(context: BotContext) -> int:
    services = context.services
    queued = await report_broadcasts(services, services.clock())
    if queued:
        services.wake_sender()
    return queued
