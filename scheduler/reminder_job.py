"""The periodic job that runs the deadline scan and wakes the sender."""

from __future__ import annotations

import logging

from bot.services import BotContext
from db.reminders import Ladder
from db.workdays import load_calendar
from scheduler.deadline_scan import DeadlineSource, ScanContext, scan_deadlines
from scheduler.report_deadlines import ReportDeadlines

log = logging.getLogger(__name__)

SOURCES: tuple[DeadlineSource, ...] = (ReportDeadlines(),)
"""Every kind of deadline the campaign has; later issues add self-checks and reports here."""


async def run_deadline_scan(context: BotContext) -> int:
    services = context.services
    settings = services.settings
    reminders = settings.reminders
    async with services.sessions() as session:
        scan = ScanContext(
            now=services.clock(),
            calendar=await load_calendar(session),
            tz=settings.tz,
            ladder=Ladder(
                remind_before_days=tuple(reminders.remind_before_days),
                at=reminders.at,
                supervise_after_days=reminders.supervise_after_days,
            ),
            admin_ids=settings.admin_ids,
            default_language=settings.default_language,
            office_robot=settings.wecom.office_url is not None,
        )
        added = await scan_deadlines(session, SOURCES, scan)
        await session.commit()
    if added:
        log.info("deadline scan queued %d messages", added)
        if services.sender is not None:
            services.sender.wake.set()
    return added
