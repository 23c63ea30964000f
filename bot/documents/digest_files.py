"""The digest's attachments: a PNG chart and an XLSX workbook.

The chart uses Noto Sans SC (SIL Open Font License), shipped by the `pylopdf-fonts-zh-cn`
package that the project depends on: matplotlib's own DejaVu Sans has no Chinese glyphs and
draws boxes, and a system font may be missing or commercial (SimHei). matplotlib is imported
on first use with ``MPLCONFIGDIR`` set to a folder of ours, since the bot may run without a
writable home directory; the Agg canvas is used directly (no pyplot, no global figure state).

The workbook is written in openpyxl's write-only mode from report rows streamed out of the
database, so a month of a hundred thousand reports never sits in memory as cells.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import AsyncIterable, Callable, Iterator
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.documents.digest_text import NAME_MAX, month_title
from bot.documents.pacing import courteous, on_a_thread
from bot.runtime.i18n import Translator
from bot.runtime.render import RATING_LABELS, cut, identity_label, state_label
from db.cases.metrics import DepartmentMetrics
from db.cases.rules import Rating
from db.duties.metrics import DutyMetrics
from db.office.digest import DepartmentFigures, Digest, ReportRow
from db.ratings.figures import RatingFigures

CellValue = str | float | datetime | None
"""What a workbook cell holds here (an int is a float to the type checker)."""
CHART_BARS = 5
"""Departments per list in the chart: the 红黑榜."""


def cjk_font_path() -> Path:
    """Noto Sans SC as shipped by the font package."""
    import pylopdf_fonts_zh_cn

    return Path(pylopdf_fonts_zh_cn.sans_path())


@cache
def _matplotlib() -> str:
    """Import matplotlib once, register the CJK font, and return its family name."""
    os.environ.setdefault("MPLCONFIGDIR", str(Path(tempfile.gettempdir()) / "zhengfeng-matplotlib"))
    from matplotlib import font_manager

    path = str(cjk_font_path())
    font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def _rate_bars(
    metrics: DepartmentMetrics, duties: DutyMetrics, _: Translator
) -> list[tuple[str, float]]:
    rates = [
        (_("Signed on time rate"), metrics.signed_on_time_rate),
        (_("Answered on time rate"), metrics.answered_on_time_rate),
        (_("Satisfaction rate"), metrics.satisfaction_rate),
        (_("Returned rate"), metrics.returned_rate),
        (_("Reopened rate"), metrics.reopened_rate),
        (_("Overdue rate"), metrics.overdue_rate),
        (_("Submission on-time rate"), duties.submission_on_time_rate),
        (_("Ledger completion rate"), duties.ledger_completion_rate),
    ]
    return [(label, 100 * rate) for label, rate in rates if rate is not None]


def render_chart(digest: Digest, _: Translator) -> bytes:
    """City-wide rates beside the top and bottom five scores, as a PNG."""
    family = _matplotlib()
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context({"font.family": [family], "axes.unicode_minus": False}):
        figure = Figure(figsize=(11, 5.5), dpi=110, layout="constrained")
        FigureCanvasAgg(figure)
        rates_axes, board_axes = figure.subplots(1, 2, width_ratios=(1, 1.3))
        figure.suptitle(month_title(digest, _), fontsize=15)

        rates = _rate_bars(digest.totals, digest.duty_totals, _)
        rates_axes.set_title(_("City-wide rates (%)"))
        rates_axes.set_ylim(0, 105)
        if rates:
            labels, values = zip(*rates, strict=True)
            bars = rates_axes.bar(labels, values, color="#3b6ea8")
            rates_axes.bar_label(bars, fmt="%.1f")
            rates_axes.tick_params(axis="x", labelrotation=30)
        else:
            rates_axes.text(0.5, 0.5, _("No reports this month"), ha="center")

        board = [(f, "#c0392b") for f in digest.top[:CHART_BARS]]
        board += [(f, "#34495e") for f in reversed(digest.bottom[:CHART_BARS])]
        board_axes.set_title(_("Top five (red) and bottom five (black): score"))
        board_axes.set_xlim(0, 115)  # room for the score label beside a full bar
        if board:
            names = [f"{f.rank}. {cut(f.name, NAME_MAX // 2)}" for f, _color in board]
            scores = [f.score or 0.0 for f, _color in board]
            bars = board_axes.barh(names, scores, color=[color for _f, color in board])
            board_axes.bar_label(bars, fmt="%.1f")
            board_axes.invert_yaxis()
        else:
            board_axes.text(0.5, 0.5, _("No unit ranked"), ha="center")

        buffer = BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


_FORBIDDEN = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
SHEET_NAME_MAX = 31


def sheet_name(name: str, taken: set[str]) -> str:
    """A sheet name Excel accepts: no []:*?/\\, at most 31 characters, no leading or trailing
    apostrophe, not "History", and unique ignoring case (Excel's rule) among `taken`, which
    it joins (lower-cased)."""
    base = _FORBIDDEN.sub("_", name).strip().strip("'").strip() or "_"
    if base.lower() == "history":
        base += "_"
    candidate = base[:SHEET_NAME_MAX]
    number = 1
    while candidate.lower() in taken:
        number += 1
        suffix = f"~{number}"
        candidate = base[: SHEET_NAME_MAX - len(suffix)] + suffix
    taken.add(candidate.lower())
    return candidate


def _metric_headers(_: Translator) -> list[str]:
    return [
        _("Received"),
        _("Signed"),
        _("Signed on time"),
        _("Signed on time rate"),
        _("Answered"),
        _("Answered on time"),
        _("Answered on time rate"),
        _("Returned"),
        _("Returned rate"),
        _("Reopened"),
        _("Reopened rate"),
        _("Satisfied"),
        _("Ratings"),
        _("Satisfaction rate"),
        _("Open now"),
        _("Overdue now"),
        _("Overdue rate"),
    ]


def _metric_values(m: DepartmentMetrics) -> list[CellValue]:
    return [
        m.received,
        m.signed,
        m.signed_on_time,
        m.signed_on_time_rate,
        m.answered,
        m.answered_on_time,
        m.answered_on_time_rate,
        m.returned,
        m.returned_rate,
        m.reopened,
        m.reopened_rate,
        m.satisfied,
        m.ratings,
        m.satisfaction_rate,
        m.open_now,
        m.overdue_now,
        m.overdue_rate,
    ]


def _duty_headers(_: Translator) -> list[str]:
    return [
        _("Submissions due"),
        _("Submissions on time"),
        _("Submission on-time rate"),
        _("Ledger items due"),
        _("Ledger items completed"),
        _("Ledger completion rate"),
    ]


def _duty_values(d: DutyMetrics) -> list[CellValue]:
    return [
        d.submissions_due,
        d.submissions_on_time,
        d.submission_on_time_rate,
        d.items_due,
        d.items_completed,
        d.ledger_completion_rate,
    ]


_RATE_COLUMNS = frozenset({3, 6, 8, 10, 13, 16, 19, 22})
"""Positions in `_metric_values` + `_duty_values` that are rates, shown as percentages."""


def _service_rating_headers(_: Translator) -> list[str]:
    """Post-service ratings (公述民评), a separate source of satisfaction: not in the score."""
    return [_("Service ratings (not scored)"), _("Service rating satisfaction rate (not scored)")]


def _service_rating_values(figures: RatingFigures | None) -> list[CellValue]:
    if figures is None:
        return [0, None]
    return [figures.ratings, figures.satisfaction_rate]


def report_headers(_: Translator) -> list[str]:
    return [
        _("Number"),
        _("Filed"),
        _("Assigned"),
        _("Category"),
        _("Unit"),
        _("State"),
        _("Due"),
        _("Signed on time"),
        _("Answered on time"),
        _("Rating"),
        _("Identity"),
        _("Reporter name"),
        _("Reporter phone"),
    ]


def _local(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _yes_no(value: bool | None, _: Translator) -> str | None:
    return None if value is None else (_("Yes") if value else _("No"))


def report_values(row: ReportRow, tz: ZoneInfo, _: Translator) -> list[object]:
    rating = _(RATING_LABELS[Rating(row.rating)]) if row.rating else None
    return [
        row.number,
        _local(row.created_at, tz),
        _local(row.assigned_at, tz),
        row.category,
        row.department,
        state_label(row.state, _),
        _local(row.due_at, tz),
        _yes_no(row.signed_on_time, _),
        _yes_no(row.answered_on_time, _),
        rating,
        identity_label(row.identity_mode, _),
        row.reporter_name,
        row.reporter_phone,
    ]


def literal_row(sheet: Any, values: list[object]) -> list[object]:
    """Typed text stays text: a name, description or comment starting with `=` would otherwise
    be stored as a formula that runs when the office opens the file (a reporter types names)."""
    from openpyxl.cell import WriteOnlyCell

    out: list[object] = []
    for value in values:
        if isinstance(value, str) and value.startswith("="):
            cell = WriteOnlyCell(sheet, value)
            cell.data_type = "s"
            value = cell
        out.append(value)
    return out


RowSource = Callable[[list[int] | None], AsyncIterable[ReportRow]]
"""Streams report rows: None → every report filed in the month; ids → the reports those
departments received in the month, by department (see `db.office.digest.month_report_rows`)."""


async def render_workbook(digest: Digest, rows: RowSource, _: Translator, tz: ZoneInfo) -> bytes:
    """The workbook: a summary sheet (ranking and totals), a sheet per department (its figures
    and the reports it received in the month) and a sheet of every report filed in the month.

    Written on a worker thread (`bot.documents.pacing.on_a_thread`): for a city it is seconds
    of openpyxl's work, which must not hold the bot's event loop."""

    def source(reader: Callable[[AsyncIterable[ReportRow]], Iterator[ReportRow]]) -> bytes:
        return _workbook(digest, lambda ids: reader(rows(ids)), _, tz)

    return await on_a_thread(source)


def _workbook(
    digest: Digest,
    rows: Callable[[list[int] | None], Iterator[ReportRow]],
    _: Translator,
    tz: ZoneInfo,
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    taken: set[str] = set()
    summary = workbook.create_sheet(sheet_name(_("Summary"), taken))
    everything_title = sheet_name(_("All reports"), taken)

    def cells(sheet: Any, values: list[CellValue], rate_at: frozenset[int]) -> list[object]:
        out: list[object] = []
        for index, value in enumerate(values):
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str) and value.startswith("="):
                cell.data_type = "s"  # a unit's name, never a formula (see `literal_row`)
            if index in rate_at:
                cell.number_format = "0.0%"
            out.append(cell)
        return out

    summary.append([month_title(digest, _)])
    summary.append([_("Judged at"), _local(digest.now, tz)])
    summary.append([])
    headers = [*_metric_headers(_), *_duty_headers(_)]
    summary.append(
        [_("Rank"), _("Code"), _("Unit"), _("Score"), *headers, *_service_rating_headers(_)]
    )
    # The service ratings' rate follows the other columns: a separate source, not scored.
    service_rate = 4 + len(headers) + 1
    shift = frozenset(i + 4 for i in _RATE_COLUMNS) | {service_rate}
    for figures in courteous(digest.departments):
        head: list[CellValue] = [figures.rank, figures.code, figures.name, figures.score]
        values = _metric_values(figures.metrics) + _duty_values(figures.duties)
        values += _service_rating_values(digest.service_ratings.get(figures.department_id))
        summary.append(cells(summary, head + values, shift))
    total_row: list[CellValue] = [None, None, _("Total"), None, *_metric_values(digest.totals)]
    total_row += _duty_values(digest.duty_totals)
    total_row += _service_rating_values(digest.service_rating_totals)
    summary.append(cells(summary, total_row, shift))

    # Each write-only sheet streams to a file of its own, so the department sheets can all be
    # open at once and filled from one pass over the rows.
    sheets = {}
    for figures in courteous(digest.departments):
        sheet = workbook.create_sheet(sheet_name(figures.name, taken))
        _department_head(sheet, digest, figures, _)
        sheets[figures.department_id] = sheet
    for row in courteous(rows([f.department_id for f in digest.departments])):
        if row.department_id is not None:
            sheet = sheets[row.department_id]
            sheet.append(literal_row(sheet, report_values(row, tz, _)))

    everything = workbook.create_sheet(everything_title)
    everything.append(report_headers(_))
    for row in courteous(rows(None)):
        everything.append(literal_row(everything, report_values(row, tz, _)))

    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _department_head(sheet: Any, digest: Digest, figures: DepartmentFigures, _: Translator) -> None:
    from openpyxl.cell import WriteOnlyCell

    sheet.append(literal_row(sheet, [figures.name, figures.code]))
    rank = figures.rank if figures.rank is not None else _("Not ranked")
    sheet.append([_("Rank"), rank, _("Score"), figures.score])
    values = _metric_values(figures.metrics) + _duty_values(figures.duties)
    labels = _metric_headers(_) + _duty_headers(_)
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        cell = WriteOnlyCell(sheet, value=value)
        if index in _RATE_COLUMNS:
            cell.number_format = "0.0%"
        sheet.append([label, cell])
    rating = _service_rating_values(digest.service_ratings.get(figures.department_id))
    for index, (label, value) in enumerate(zip(_service_rating_headers(_), rating, strict=True)):
        cell = WriteOnlyCell(sheet, value=value)
        if index == 1:
            cell.number_format = "0.0%"
        sheet.append([label, cell])
    sheet.append([_("Overdue reports"), ", ".join(figures.overdue_numbers)])
    sheet.append([])
    sheet.append(report_headers(_))
