"""A month of reports as an XLSX workbook: `zhengfeng export` and the admins' `/export`.

The same rows and columns as the digest's "all reports" sheet (`db.office.digest.month_report_rows`,
`bot.documents.digest_files.report_values`), so the export and the digest never disagree on what a
report looks like, and neither ever carries a Telegram id; a reporter's name and phone appear
only for real-name reports. A month without reports is a workbook with the header row only.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.digest_files import literal_row, report_headers, report_values, sheet_name
from bot.documents.pacing import in_turns, saved
from bot.runtime.i18n import Translator
from bot.runtime.settings import Settings
from db.calendar.months import MonthSpan
from db.calendar.workdays import load_calendar
from db.engine import off_the_loop
from db.office.digest import ReportRow, month_report_rows


async def month_reports(
    session: AsyncSession, settings: Settings, span: MonthSpan, language: str
) -> AsyncIterator[ReportRow]:
    """The month's reports as the export shows them: the digest's rows, without building the
    rest of the digest."""
    calendar = await load_calendar(session)
    async for row in month_report_rows(
        session,
        span,
        calendar=calendar,
        tz=settings.tz,
        limits=settings.deadlines.base_limits(),
        language=language,
    ):
        yield row


async def render_reports_workbook(
    rows: AsyncIterable[ReportRow],
    title: str,
    _: Translator,
    tz: ZoneInfo,
    on_row: Callable[[], None] | None = None,
) -> bytes:
    """One sheet named `title`: the header and a row per report, streamed (write-only mode)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_name(title, set()))
    sheet.append(report_headers(_))
    with off_the_loop():  # the rows' statements: a month of a city's reports
        async for row in in_turns(rows):
            sheet.append(literal_row(sheet, report_values(row, tz, _)))
            if on_row is not None:
                on_row()
    return await saved(workbook)
