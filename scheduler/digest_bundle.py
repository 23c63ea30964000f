"""Everything one month's digest sends, built in one place for the monthly job, `/digest` and
the command line, so the three can never disagree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import gettext_for
from db.case_rules import Limits
from db.digest import Digest, ReportRow, ScoreWeights, build_digest, month_report_rows
from db.workdays import WorkCalendar
from scheduler.digest_files import render_chart, render_workbook
from scheduler.digest_text import department_message, office_message


@dataclass(frozen=True)
class DigestBundle:
    digest: Digest
    office_text: str
    department_texts: dict[int, str]
    """By department id, for every department listed in the digest."""
    chart_png: bytes
    workbook_xlsx: bytes


async def build_digest_bundle(
    session: AsyncSession,
    month: date,
    now: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    limits: Limits,
    weights: ScoreWeights,
    overdue_limit: int = 20,
    language: str = "zh_CN",
) -> DigestBundle:
    """The digest of `month` with its messages (in `language`), chart and workbook.

    The chart is drawn in a worker thread: matplotlib takes a noticeable fraction of a second
    and must not stall the bot's event loop.
    """
    _ = gettext_for(language)
    digest = await build_digest(
        session,
        month,
        now,
        calendar=calendar,
        tz=tz,
        limits=limits,
        weights=weights,
        overdue_limit=overdue_limit,
    )

    def rows(department_ids: list[int] | None) -> AsyncIterator[ReportRow]:
        return month_report_rows(
            session,
            digest,
            calendar=calendar,
            tz=tz,
            limits=limits,
            language=language,
            department_ids=department_ids,
        )

    workbook = await render_workbook(digest, rows, _, tz)
    chart = await asyncio.to_thread(render_chart, digest, _)
    return DigestBundle(
        digest=digest,
        office_text=office_message(digest, _),
        department_texts={
            f.department_id: department_message(digest, f.department_id, _)
            for f in digest.departments
        },
        chart_png=chart,
        workbook_xlsx=workbook,
    )
