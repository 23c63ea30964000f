"""Close answered reports nobody rated in time as 未评价, after a restart too.

The report row is the clock (its rating due time), so a job that runs every few minutes finds
them all, including those whose time passed while the bot was down.
"""

from __future__ import annotations

import logging

from bot.runtime.leader_notices import LeaderNews, leader_notices
from bot.runtime.services import BotContext
from bot.runtime.turn import queue_notices
from db.calendar.workdays import load_calendar
from db.cases.handling import close_unrated
from db.cases.reports import report_by_number
from db.models import EventKind

log = logging.getLogger(__name__)


async def close_unrated_reports(context: BotContext) -> list[str]:
    services = context.services
    settings = services.settings
    now = services.clock()
    async with services.sessions() as session:
        calendar = await load_calendar(session)
        limits = settings.deadlines.base_limits()
        closed = await close_unrated(session, now, calendar, limits, settings.tz)
        for number in closed:
            report = await report_by_number(session, number)
            if report is not None:
                news = await leader_notices(
                    session, settings, report, LeaderNews.closed, EventKind.closed_unrated
                )
                await queue_notices(session, news, now, services)
        await session.commit()
    if closed:
        log.info("closed %d answered reports as unrated: %s", len(closed), ", ".join(closed))
    return closed
