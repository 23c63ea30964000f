"""Retention: what is kept of a closed report once it is old, and how the rest is removed.

Seed 004 wants figures per department for years (rankings, bulletins), but nothing needs to know
who reported a case that was closed long ago. So after `[retention] days` a closed, rejected or
merged report loses everything that points at a person (name, phone, the account link on the
report and on the reporter's own timeline steps, the receipt hash) and its attachments, while
its content, category, units, times and rating stay for the statistics. The timeline gets a
non-public `purged` step and the audit trail a `retention.purge` event, in the same transaction.

Plain functions over a session; the caller commits (one report per commit in
`scheduler.office.retention`, so a long purge holds no long write lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, update
from sqlmodel import col, exists, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.audit import record
from db.files import remove_if_unreferenced
from db.models import Attachment, EventKind, Report, ReportEvent, ReportState

CLOSED_STATES: frozenset[ReportState] = frozenset(
    {ReportState.closed, ReportState.rejected, ReportState.merged}
)
"""States a report never leaves on its own: nobody will need to contact its reporter again."""


@dataclass(frozen=True)
class PurgeCandidate:
    """A report due for purging and what would go; `dry-run` lists exactly these."""

    report_id: int
    number: str
    state: ReportState
    closed_at: datetime
    """The last change of the report, i.e. when it reached its closed state."""
    personal_fields: tuple[str, ...]
    attachments: int


def cutoff(now: datetime, days: int) -> datetime:
    """Reports whose last change is before this are old enough to purge."""
    if days < 1:
        raise ValueError("retention must be at least one day")
    return now - timedelta(days=days)


def _personal_fields(report: Report) -> tuple[str, ...]:
    values = {
        "reporter_name": report.reporter_name,
        "reporter_phone": report.reporter_phone,
        "reporter_account_id": report.reporter_account_id,
        "receipt_hash": report.receipt_hash,
    }
    return tuple(name for name, value in values.items() if value is not None)


async def purge_candidates(session: AsyncSession, now: datetime, days: int) -> list[PurgeCandidate]:
    """Closed reports last changed before the cutoff and not purged yet, oldest first.

    A report already purged has a `purged` step; it is skipped even when it had nothing left to
    remove, so running the purge again changes nothing.
    """
    already = exists().where(
        col(ReportEvent.report_id) == col(Report.id), col(ReportEvent.kind) == EventKind.purged
    )
    statement = (
        select(Report)
        .where(
            col(Report.state).in_(list(CLOSED_STATES)),
            col(Report.updated_at) < cutoff(now, days),
            ~already,
        )
        .order_by(col(Report.updated_at), col(Report.id))
    )
    reports = list((await session.exec(statement)).all())
    counts: dict[int, int] = {}
    if reports:
        ids = [r.id for r in reports]
        rows = await session.exec(
            select(Attachment.report_id).where(col(Attachment.report_id).in_(ids))
        )
        for report_id in rows.all():
            counts[report_id] = counts.get(report_id, 0) + 1
    return [
        PurgeCandidate(
            report_id=r.id or 0,
            number=r.number,
            state=ReportState(r.state),
            closed_at=r.updated_at,
            personal_fields=_personal_fields(r),
            attachments=counts.get(r.id or 0, 0),
        )
        for r in reports
    ]


@dataclass(frozen=True)
class Purged:
    number: str
    fields: tuple[str, ...]
    attachments: int
    files_removed: int


async def purge_report(
    session: AsyncSession, report_id: int, *, now: datetime, attachments_root: Path
) -> Purged | None:
    """Remove one report's personal data and attachments; None when it is not (or no longer)
    due, e.g. reopened since it was listed.

    Files go before the caller's commit: should the commit fail, the report is found again on
    the next run and purged then, so nothing personal is left on disk in between; the worst
    case is an attachment row of a report about to be purged pointing at a removed file. A
    file is removed only when no other report or draft uses the same bytes (`db.files`).
    """
    report = await session.get(Report, report_id)
    if report is None or ReportState(report.state) not in CLOSED_STATES:
        return None
    done = await session.exec(
        select(ReportEvent.id).where(
            col(ReportEvent.report_id) == report_id, col(ReportEvent.kind) == EventKind.purged
        )
    )
    if done.first() is not None:
        return None
    fields = _personal_fields(report)
    paths = list(
        await session.exec(select(Attachment.path).where(col(Attachment.report_id) == report_id))
    )
    await session.exec(delete(Attachment).where(col(Attachment.report_id) == report_id))
    # The reporter's own steps (filed, added, answered, rated) carry the account as actor.
    await session.exec(
        update(ReportEvent)
        .where(col(ReportEvent.report_id) == report_id, col(ReportEvent.actor_role) == "reporter")
        .values(actor_account_id=None)
        .execution_options(synchronize_session=False)
    )
    report.reporter_name = None
    report.reporter_phone = None
    report.reporter_account_id = None
    report.receipt_hash = None
    session.add(report)
    summary = {"fields": list(fields), "attachments": len(paths)}
    session.add(
        ReportEvent(
            report_id=report_id,
            department_id=report.handling_department_id,
            kind=EventKind.purged,
            actor_role="system",
            public=False,
            created_at=now,
        )
    )
    await record(
        session,
        actor_account_id=None,
        action="retention.purge",
        subject=report.number,
        now=now,
        after=summary,
    )
    await session.flush()
    removed = await remove_if_unreferenced(session, attachments_root, paths)
    return Purged(report.number, fields, len(paths), removed)
