"""The periodic job that runs the deadline scan and wakes the sender."""

from __future__ import annotations

import logging

from bot.runtime.services import BotContext
from db.calendar.reminders import Ladder
from db.calendar.workdays import load_calendar
from db.duties.obligations import open_submissions
from scheduler.deadlines.duties import LedgerDeadlines, SubmissionDeadlines
from scheduler.deadlines.overdue_summary import queue_overdue_summaries
from scheduler.deadlines.reports import ReportDeadlines
from scheduler.deadlines.scan import DeadlineSource, ScanContext, scan_deadlines

log = logging.getLogger(__name__)

SOURCES: tuple[DeadlineSource, ...] = (ReportDeadlines(), SubmissionDeadlines(), LedgerDeadlines())
"""Every kind of deadline the campaign has: reports, the duties' submissions, ledger items."""


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
        # A period that began since the last scan owes its submissions now, before due times are
        # read, so they are chased without anybody opening them.
        opened = await open_submissions(session, scan.now, scan.calendar, scan.tz)
        added = await scan_deadlines(session, SOURCES, scan)
        added += await queue_overdue_summaries(session, scan)
        await session.commit()
    if opened:
        log.info("deadline scan opened %d submissions", opened)
    if added:
        log.info("deadline scan queued %d messages", added)
        services.wake_sender()
    return added
