"""The duties workbook: a sheet of submissions and a sheet of the ledger for a period.

Shared by the command line's `zhengfeng export-duties` and the office's `/export duties`, so
both give the same file. Rows are streamed (write-only mode): a year of a big city's duties
stays small in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.digest_files import literal_row, sheet_name
from bot.documents.pacing import in_turns, saved
from bot.runtime.duty_labels import (
    DECISION_LABELS,
    LEDGER_STATE_LABELS,
    SOURCE_LABELS,
    SUBMISSION_STATE_LABELS,
    kind_label,
)
from bot.runtime.i18n import Translator
from bot.runtime.period_text import period_label
from bot.runtime.render import local_time
from db.cases.categories import category_name
from db.duties.export import LedgerRow, SubmissionRow, bounds, ledger_rows, submission_rows
from db.engine import off_the_loop


def _time(moment: datetime | None, tz: ZoneInfo) -> str:
    return local_time(moment, tz) if moment is not None else ""


def submission_headers(_: Translator) -> list[str]:
    return [
        _("Duty"),
        _("Kind"),
        _("Unit code"),
        _("Unit"),
        _("Period"),
        _("Due"),
        _("First filed"),
        _("On time"),
        _("Rounds"),
        _("State"),
        _("Last decision"),
        _("Last comment"),
    ]


def submission_values(row: SubmissionRow, tz: ZoneInfo, _: Translator) -> list[object]:
    on_time = "" if row.on_time is None else _("yes") if row.on_time else _("no")
    return [
        row.duty,
        kind_label(row.kind, _),
        row.unit_code,
        row.unit_name,
        period_label(row.period, _),
        _time(row.due_at, tz),
        _time(row.first_submitted_at, tz),
        on_time,
        row.rounds,
        _(SUBMISSION_STATE_LABELS[row.state]),
        _(DECISION_LABELS[row.decision]) if row.decision else "",
        row.comment or "",
    ]


def ledger_headers(_: Translator) -> list[str]:
    return [
        _("Item"),
        _("Unit code"),
        _("Unit"),
        _("Source"),
        _("Category"),
        _("Description"),
        _("Measure"),
        _("Responsible"),
        _("Due"),
        _("State"),
        _("Done"),
        _("Confirmed"),
    ]


def ledger_values(row: LedgerRow, tz: ZoneInfo, _: Translator, language: str) -> list[object]:
    return [
        row.item_id,
        row.unit_code,
        row.unit_name,
        _(SOURCE_LABELS[row.source]),
        category_name(row.category, language) if row.category else "",
        row.description,
        row.measure or "",
        row.owner or "",
        _time(row.due_at, tz),
        _(LEDGER_STATE_LABELS[row.state]),
        _time(row.done_at, tz),
        _time(row.confirmed_at, tz),
    ]


async def render_duties_workbook(
    submissions: AsyncIterable[SubmissionRow],
    ledger: AsyncIterable[LedgerRow],
    _: Translator,
    language: str,
    tz: ZoneInfo,
) -> tuple[bytes, int, int]:
    """The workbook and how many submission and ledger rows it holds."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    sheet = workbook.create_sheet(sheet_name(_("Submissions"), taken))
    sheet.append(submission_headers(_))
    filed = 0
    async for row in in_turns(submissions):
        sheet.append(literal_row(sheet, submission_values(row, tz, _)))
        filed += 1
    sheet = workbook.create_sheet(sheet_name(_("Ledger"), taken))
    sheet.append(ledger_headers(_))
    items = 0
    async for item in in_turns(ledger):
        sheet.append(literal_row(sheet, ledger_values(item, tz, _, language)))
        items += 1
    return await saved(workbook), filed, items


async def duties_workbook(
    session: AsyncSession, first: date, last: date, _: Translator, language: str, tz: ZoneInfo
) -> tuple[bytes, int, int]:
    """The workbook of the local days `first` to `last`, with its row counts."""
    start, end = bounds(first, last, tz)
    with off_the_loop():
        return await render_duties_workbook(
            submission_rows(session, start, end), ledger_rows(session, start, end), _, language, tz
        )
