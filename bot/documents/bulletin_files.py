"""The quarterly bulletin's attachments: a PNG chart of every ranked unit's score (末位 in red)
and an XLSX workbook (the ranking, then each unit's components and counts). The chart uses the
digest's CJK font (`bot.documents.digest_files`)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from io import BytesIO
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.bulletin_text import component_label, quarter_title
from bot.documents.digest_files import _matplotlib, literal_row
from bot.documents.digest_text import NAME_MAX
from bot.documents.kept_files import keep_unique
from bot.documents.worker import drawn
from bot.runtime.i18n import Translator, gettext_for
from bot.runtime.render import cut
from bot.runtime.settings import Settings
from db.bulletin.bulletin import Bulletin, compute_bulletin, frozen_of, stored_bulletin
from db.bulletin.quarters import Quarter
from db.bulletin.scoring import COMPONENTS
from db.calendar.workdays import load_calendar
from db.delivery.outbox import Attachment
from db.engine import off_the_loop

BAR = "#3b6ea8"
BOTTOM = "#c0392b"
COUNT_NAMES = (
    "received",
    "answered",
    "ratings",
    "submissions_due",
    "items_due",
    "ballots",
    "service_ratings",
)


def _count_label(name: str, _: Translator) -> str:
    labels = {
        "received": _("Reports received"),
        "answered": _("Replies"),
        "ratings": _("Ratings of replies"),
        "submissions_due": _("Submissions due"),
        "items_due": _("Ledger items due"),
        "ballots": _("Appraisal ballots"),
        "service_ratings": _("Service ratings"),
    }
    return labels[name]


def render_chart(bulletin: Bulletin, _: Translator) -> bytes:
    """Horizontal bars of the ranked units' scores, best on top, 末位 in red."""
    family = _matplotlib()
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ranked = bulletin.ranked
    height = max(3.0, 1.2 + 0.32 * len(ranked))
    with rc_context({"font.family": [family], "axes.unicode_minus": False}):
        figure = Figure(figsize=(9, height), dpi=110, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots()
        axes.set_title(quarter_title(bulletin.quarter, _) + " — " + _("score"), fontsize=14)
        axes.set_xlim(0, 110)
        if ranked:
            names = [f"{u.rank}. {cut(u.name, NAME_MAX // 2)}" for u in ranked]
            scores = [u.score or 0.0 for u in ranked]
            colors = [BOTTOM if u.bottom else BAR for u in ranked]
            bars = axes.barh(names, scores, color=colors)
            axes.bar_label(bars, fmt="%.1f")
            axes.invert_yaxis()
            if bulletin.bottom:
                axes.set_xlabel(_("Red: bottom place"))
        else:
            axes.text(0.5, 0.5, _("No unit ranked"), ha="center")
        buffer = BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def render_workbook(bulletin: Bulletin, _: Translator) -> bytes:
    """A ranking sheet and a sheet of every unit's components and counts."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    ranking = workbook.create_sheet(_("Ranking"))
    ranking.append([quarter_title(bulletin.quarter, _)])
    ranking.append([_("Rank"), _("Code"), _("Unit"), _("Score"), _("Bottom place")])
    for unit in bulletin.units:
        mark = _("Yes") if unit.bottom else ""
        values: list[object] = [unit.rank, unit.code, unit.name, unit.score, mark]
        ranking.append(literal_row(ranking, values))

    details = workbook.create_sheet(_("Components"))
    headers = [_("Code"), _("Unit")]
    headers += [component_label(name, _) for name in COMPONENTS]
    headers += [_count_label(name, _) for name in COUNT_NAMES]
    details.append(headers)
    for unit in bulletin.units:
        row: list[object] = literal_row(details, [unit.code, unit.name])
        for name in COMPONENTS:
            cell = WriteOnlyCell(details, value=unit.components.get(name))
            if name != "appraisal":
                cell.number_format = "0.0%"
            row.append(cell)
        row += [unit.counts.get(name, 0) for name in COUNT_NAMES]
        details.append(row)

    weights = workbook.create_sheet(_("Weights"))
    for name in COMPONENTS:
        weights.append([component_label(name, _), bulletin.weights.get(name, 0.0)])
    weights.append([_("Bottom places marked"), bulletin.bottom_count])
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def file_names(quarter: str) -> tuple[str, str]:
    return f"bulletin-{quarter}.png", f"bulletin-{quarter}.xlsx"


def write_files(bulletin: Bulletin, folder: Path, _: Translator) -> tuple[Path, Path]:
    """Write the chart and the workbook into `folder` (made if needed)."""
    folder.mkdir(parents=True, exist_ok=True)
    chart_name, workbook_name = file_names(bulletin.quarter)
    chart, workbook = folder / chart_name, folder / workbook_name
    chart.write_bytes(render_chart(bulletin, _))
    workbook.write_bytes(render_workbook(bulletin, _))
    return chart, workbook


BULLETIN_DIR = "bulletins"
"""Under the data dir: the chart and workbook of each bulletin sent or previewed."""


async def bulletin_of(
    session: AsyncSession, settings: Settings, quarter: Quarter, now: datetime
) -> Bulletin:
    """The quarter's frozen bulletin (as sent or published), else computed now by `settings`.

    Computed off the event loop: the quarter's aggregates over a city's million reports held the
    loop about 300 ms inline, 26 ms in `off_the_loop` (bench/bulletin.py).
    """
    row = await stored_bulletin(session, quarter.key)
    if row is not None:
        return frozen_of(row)
    calendar = await load_calendar(session)
    with off_the_loop():
        return await compute_bulletin(
            session,
            quarter,
            now,
            calendar=calendar,
            tz=settings.tz,
            limits=settings.deadlines.base_limits(),
            weights=settings.bulletin.weights.bulletin_weights(),
            bottom_count=settings.bulletin.bottom_count,
        )


def render_files(bulletin: Bulletin, language: str) -> tuple[bytes, bytes]:
    """The chart and the workbook in `language` (run in a child process: see keep_files)."""
    _ = gettext_for(language)
    return render_chart(bulletin, _), render_workbook(bulletin, _)


async def keep_files(
    data_dir: Path, bulletin: Bulletin, language: str, *, separate_process: bool = False
) -> tuple[Attachment, Attachment]:
    """Draw the chart and workbook (in `language`) and write them under the data dir, each by
    a name of its own (`keep_unique`); the outbox and the replies refer to them by path.

    With `separate_process` (the bot: `[digest] separate_process`) they are drawn in a process
    of their own (`bot.documents.worker`): on a thread, matplotlib and openpyxl hold the bot's
    interpreter for tens of milliseconds at a time."""
    chart_png, workbook_xlsx = await drawn(separate_process, render_files, bulletin, language)
    chart_name, workbook_name = file_names(bulletin.quarter)
    stem = chart_name.removesuffix(".png")

    def write() -> tuple[str, str]:
        folder = data_dir / BULLETIN_DIR
        chart = keep_unique(folder, stem, language, ".png", chart_png)
        workbook = keep_unique(folder, stem, language, ".xlsx", workbook_xlsx)
        return chart, workbook

    chart, workbook = await asyncio.to_thread(write)
    return (
        Attachment(kind="photo", path=f"{BULLETIN_DIR}/{chart}", name=chart_name),
        Attachment(kind="document", path=f"{BULLETIN_DIR}/{workbook}", name=workbook_name),
    )
