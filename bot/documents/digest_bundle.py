"""Everything one month's digest sends, built in one place for the monthly job, `/digest` and
the command line, so the three can never disagree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.digest_files import render_chart, render_workbook
from bot.documents.digest_text import department_message, office_message
from bot.documents.worker import in_a_process
from bot.runtime.i18n import gettext_for
from bot.runtime.settings import Settings
from db.calendar.workdays import load_calendar
from db.delivery.outbox import Attachment
from db.engine import create_engine, off_the_loop, session_factory
from db.office.digest import Digest, ReportRow, build_digest, month_report_rows

DIGEST_DIR = "digests"
"""Under the data dir: the chart and workbook of each published month."""


@dataclass(frozen=True)
class DigestBundle:
    digest: Digest
    office_text: str
    department_texts: dict[int, str]
    """By department id, for every department listed in the digest."""
    chart_png: bytes
    workbook_xlsx: bytes

    @property
    def stem(self) -> str:
        """The start of every file name of the month's digest, e.g. digest-2026-03."""
        return f"digest-{self.digest.month:%Y-%m}"

    def write_files(self, folder: Path) -> tuple[str, str]:
        """Write the chart and the workbook into `folder` (made if needed); their file names."""
        folder.mkdir(parents=True, exist_ok=True)
        chart, workbook = f"{self.stem}.png", f"{self.stem}.xlsx"
        (folder / chart).write_bytes(self.chart_png)
        (folder / workbook).write_bytes(self.workbook_xlsx)
        return chart, workbook


async def build_digest_bundle(
    session: AsyncSession, settings: Settings, month: date, now: datetime, language: str
) -> DigestBundle:
    """The digest of `month` with its messages (in `language`), chart and workbook, by the
    limits, weights and time zone of `settings`: built in a process of its own
    (`bot.documents.worker`) unless `[digest] separate_process` is off, then with `session`."""
    if settings.digest.separate_process:
        return await in_a_process(_bundle_of_a_process, settings, month, now, language)
    return await _bundle(session, settings, month, now, language)


def _bundle_of_a_process(
    settings: Settings, month: date, now: datetime, language: str
) -> DigestBundle:
    """In the child process: its own event loop and its own connections to the database."""

    async def build() -> DigestBundle:
        engine = create_engine(settings.database.url)
        try:
            async with session_factory(engine)() as session:
                return await _bundle(session, settings, month, now, language)
        finally:
            await engine.dispose()

    return asyncio.run(build())


async def _bundle(
    session: AsyncSession, settings: Settings, month: date, now: datetime, language: str
) -> DigestBundle:
    """The bundle, built with `session`: in the bot's own process (the setting off), nothing of
    it may stall the bot's event loop either: the statements run on the connection's
    thread (a year of reports is seconds of SQLite's work), the workbook is written in turns
    (`bot.documents.pacing`) and the chart is drawn in a worker thread (matplotlib takes a
    noticeable fraction of a second).
    """
    with off_the_loop():
        _ = gettext_for(language)
        calendar = await load_calendar(session)
        tz = settings.tz
        limits = settings.deadlines.base_limits()
        digest = await build_digest(
            session,
            month,
            now,
            calendar=calendar,
            tz=tz,
            limits=limits,
            weights=settings.digest.weights.score_weights(),
            overdue_limit=settings.digest.overdue_numbers_max,
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


async def keep_files(data_dir: Path, bundle: DigestBundle) -> tuple[Attachment, Attachment]:
    """Write the chart and workbook under the data dir, on a thread (a city's workbook is
    megabytes); the outbox refers to them by path."""
    chart, workbook = await asyncio.to_thread(bundle.write_files, data_dir / DIGEST_DIR)
    return (
        Attachment(kind="photo", path=f"{DIGEST_DIR}/{chart}", name=chart),
        Attachment(kind="document", path=f"{DIGEST_DIR}/{workbook}", name=workbook),
    )
