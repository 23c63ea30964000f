"""Close answered reports nobody rated in time as 未评价, after a restart too.

The report row is the clock (its rating due time), so a job that runs every few minutes finds
them all, including those whose time passed while the bot was down.
"""

from __future__ import annotations

import logging

from bot.runtime.services import BotContext
from db.calendar.workdays import load_calendar
from db.cases.handling import close_unrated

log = logging.getLogger(__name__)


async def close_unrated_reports(context: BotContext) -> list[str]:
    services = context.services
    settings = services.settings
    async with services.sessions() as session:
        closed = await close_unrated(
            session,
            services.clock(),
            await load_calendar(session),
            settings.deadlines.base_limits(),
            settings.tz,
        )
        await session.commit()
    if closed:
        log.info("closed %d answered reports as unrated: %s", len(closed), ", ".join(closed))
    return closed
