"""Close answered reports nobody rated in time as 未评价, after a restart too.

The report row is the clock (its rating due time), so a job that runs every few minutes finds
them all, including those whose time passed while the bot was down.
"""

from __future__ import annotations

import logging

from bot.runtime.fairness import let_others_run
from bot.runtime.leader_notices import LeaderNews, leader_notices
from bot.runtime.services import BotContext
from bot.runtime.turn import queue_notices
from db.calendar.workdays import load_calendar
from db.cases.handling import close_unrated
from db.cases.reports import report_by_number
from db.models import EventKind

log = logging.getLogger(__name__)


PER_RUN = 200
"""Reports closed per run (every `close_unrated_interval_seconds`): a backlog after downtime is
worked off over several runs rather than in one long stretch."""


async def close_unrated_reports(context: BotContext) -> list[str]:
    """One report per transaction, a turn of the event loop between: each close holds the write
    lock, which people filing reports wait for, for a few milliseconds only."""
    services = context.services
    settings = services.settings
    closed: list[str] = []
    limits = settings.deadlines.base_limits()
    async with services.sessions() as session:
        calendar = await load_calendar(session)
    for _ in range(PER_RUN):
        now = services.clock()
        async with services.sessions() as session:
            batch = await close_unrated(session, now, calendar, limits, settings.tz, batch=1)
            for number in batch:
                report = await report_by_number(session, number)
                if report is not None:
                    news = await leader_notices(
                        session, settings, report, LeaderNews.closed, EventKind.closed_unrated
                    )
                    await queue_notices(session, news, now, services)
            await session.commit()
        if not batch:
            break
        closed += batch
        await let_others_run()
    if closed:
        log.info("closed %d answered reports as unrated: %s", len(closed), ", ".join(closed[:50]))
    return closed
