"""Creating reports from finished drafts and reading them back for their reporters."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import UpdateBase, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import load_calendar
from db.cases.drafts import Draft, delete_draft
from db.cases.handling import ConfiguredLimits, category_limits, open_case
from db.cases.receipts import hash_receipt, legacy_hash_receipt, new_receipt, normalize_receipt
from db.cases.rules import TERMINAL_STATES
from db.models import (
    Attachment,
    Department,
    EventKind,
    IdentityMode,
    Report,
    ReportCounter,
    ReportEvent,
)
from db.queries import insert_or_skip, table_of
from db.ratings.service import link_report


def format_number(year: int, seq: int) -> str:
    return f"ZF{year}-{seq:06d}"


def parse_number(text: str) -> str | None:
    """Accept `zf2026-123` and similar; return the canonical public number or None."""
    cleaned = text.strip().upper().replace(" ", "")
    if not cleaned.startswith("ZF") or "-" not in cleaned:
        return None
    year_part, _, seq_part = cleaned[2:].partition("-")
    if not (
        (year_part + seq_part).isascii()
        and year_part.isdigit()
        and len(year_part) == 4
        and seq_part.isdigit()
    ):
        return None
    if not 0 < int(seq_part) < 1_000_000:
        return None
    return format_number(int(year_part), int(seq_part))


@functools.cache
def _seq_statements(dialect: str) -> tuple[UpdateBase, UpdateBase]:
    """The counter's two statements, built once per dialect and run with the year as parameter:
    building them cost more Python time than running them."""
    # On the table, not the entity: an ORM update would also search the session for objects to
    # synchronise, and nothing here keeps counters loaded.
    table = table_of(ReportCounter)
    year: sa.BindParameter[int] = sa.bindparam("seq_year", type_=sa.Integer)
    ensure = insert_or_skip(dialect, table).values(year=year, last_seq=0)
    bump = (
        update(table)
        .where(table.c.year == year)
        .values(last_seq=table.c.last_seq + 1)
        .returning(table.c.last_seq)
    )
    return ensure, bump


async def next_seq(session: AsyncSession, year: int) -> int:
    """Allocate the next number of the year inside the caller's transaction, race-free."""
    ensure, bump = _seq_statements(session.get_bind().dialect.name)
    await session.exec(ensure, params={"seq_year": year})
    result = await session.exec(bump, params={"seq_year": year})
    return int(result.scalar_one())


@dataclass(frozen=True)
class Submitted:
    report: Report
    receipt: str | None
    """Shown once to the reporter and never stored in clear."""


async def submit_draft(
    session: AsyncSession,
    *,
    account_id: int,
    draft: Draft,
    language: str,
    now: datetime,
    tz: ZoneInfo,
) -> Submitted:
    if not draft.is_complete():
        raise ValueError("draft is not complete")
    assert draft.category_id is not None and draft.description and draft.identity_mode
    receipt: str | None = None
    receipt_hash: str | None = None
    if draft.identity_mode is not IdentityMode.real_name:
        receipt = new_receipt()
        raw = normalize_receipt(receipt)
        assert raw is not None
        receipt_hash = hash_receipt(raw)
    year = now.astimezone(tz).year
    seq = await next_seq(session, year)
    fully_anonymous = draft.identity_mode is IdentityMode.fully_anonymous
    report = Report(
        number=format_number(year, seq),
        year=year,
        seq=seq,
        category_id=draft.category_id,
        department_id=draft.department_id,
        department_text=draft.department_text,
        description=draft.description,
        time_place=draft.time_place,
        identity_mode=draft.identity_mode,
        reporter_account_id=None if fully_anonymous else account_id,
        reporter_name=draft.reporter_name
        if draft.identity_mode is IdentityMode.real_name
        else None,
        reporter_phone=(
            draft.reporter_phone if draft.identity_mode is IdentityMode.real_name else None
        ),
        receipt_hash=receipt_hash,
        leader_involved=draft.leader_involved,
        language=language,
        created_at=now,
        updated_at=now,
    )
    session.add(report)
    await session.flush()
    assert report.id is not None
    event = ReportEvent(
        report_id=report.id,
        kind=EventKind.created,
        actor_account_id=None if fully_anonymous else account_id,
        actor_role="reporter",
        public=True,
        created_at=now,
    )
    session.add(event)
    await session.flush()
    for item in draft.attachments:
        session.add(
            Attachment(
                report_id=report.id,
                event_id=event.id,
                kind=item.kind,
                file_name=item.file_name,
                mime_type=item.mime_type,
                size=item.size,
                sha256=item.sha256,
                path=item.path,
                created_at=now,
            )
        )
    return Submitted(report=report, receipt=receipt)


async def file_report(
    session: AsyncSession,
    *,
    account_id: int,
    draft: Draft,
    language: str,
    now: datetime,
    configured: ConfiguredLimits,
    tz: ZoneInfo,
    auto_assign: bool,
) -> Submitted:
    """A person's finished draft becomes a report with its case open, and the draft goes, all
    in the caller's transaction: from this moment the report has an owner and a due time (the
    office's inbox, or the unit when `auto_assign` routes it there). A draft started from a
    不满意 service rating records the report on that rating, in the same transaction, unless
    the report is fully anonymous: the rating row names the account, so the link would tie the
    report to the person."""
    submitted = await submit_draft(
        session, account_id=account_id, draft=draft, language=language, now=now, tz=tz
    )
    if (
        draft.rating_id is not None
        and submitted.report.id is not None
        and draft.identity_mode is not IdentityMode.fully_anonymous
    ):
        await link_report(session, draft.rating_id, account_id, submitted.report.id)
    await open_case(
        session,
        submitted.report,
        now,
        await load_calendar(session),
        await category_limits(session, submitted.report.category_id, configured),
        tz,
        auto_assign=auto_assign,
        conflict_department_id=draft.department_id if draft.leader_involved else None,
    )
    await delete_draft(session, account_id)
    return submitted


async def reports_of_account(
    session: AsyncSession, account_id: int, limit: int = 20
) -> list[Report]:
    result = await session.exec(
        select(Report)
        .where(Report.reporter_account_id == account_id)
        .order_by(col(Report.created_at).desc())
        .limit(limit)
    )
    return list(result.all())


async def report_by_number(session: AsyncSession, number: str) -> Report | None:
    """The report of a public number (as `parse_number` gives it)."""
    return (await session.exec(select(Report).where(col(Report.number) == number))).first()


async def report_of_account(session: AsyncSession, account_id: int, number: str) -> Report | None:
    """Only the reporter's own report: a number alone is public and proves nothing."""
    result = await session.exec(
        select(Report).where(Report.number == number, Report.reporter_account_id == account_id)
    )
    return result.first()


async def report_by_receipt(session: AsyncSession, raw_receipt: str) -> Report | None:
    """The report of a receipt. A receipt stored the old way is found by its old hash (in a
    worker thread: scrypt takes tens of milliseconds) and rewritten the new way in this session,
    so the old hash is computed for it once; a wrong guess costs that too, which the guess
    throttle bounds."""
    digest = hash_receipt(raw_receipt)
    report = (await session.exec(select(Report).where(Report.receipt_hash == digest))).first()
    if report is not None:
        return report
    legacy = await asyncio.to_thread(legacy_hash_receipt, raw_receipt)
    report = (await session.exec(select(Report).where(Report.receipt_hash == legacy))).first()
    if report is not None:
        report.receipt_hash = digest
        session.add(report)
        await session.flush()
    return report


async def public_timeline(session: AsyncSession, report_id: int) -> list[ReportEvent]:
    result = await session.exec(
        select(ReportEvent)
        .where(ReportEvent.report_id == report_id, col(ReportEvent.public).is_(True))
        .order_by(col(ReportEvent.created_at), col(ReportEvent.id))
    )
    return list(result.all())


async def add_reporter_info(
    session: AsyncSession,
    report: Report,
    *,
    text: str,
    actor_account_id: int | None,
    now: datetime,
) -> ReportEvent:
    """Extra information from the reporter joins the timeline; the report itself stays as filed."""
    assert report.id is not None
    event = ReportEvent(
        report_id=report.id,
        kind=EventKind.info_added,
        actor_account_id=actor_account_id,
        actor_role="reporter",
        public=True,
        body=text,
        created_at=now,
    )
    session.add(event)
    report.updated_at = now
    session.add(report)
    await session.flush()
    return event


async def attach_to_latest(
    session: AsyncSession,
    report_id: int,
    event_kind: EventKind,
    *,
    kind: str,
    mime_type: str,
    size: int,
    sha256: str,
    path: str,
    file_name: str | None = None,
) -> Attachment:
    """Keep a file with the newest event of `event_kind` (e.g. the answer just recorded), so the
    timeline knows which step brought it."""
    event = (
        await session.exec(
            select(ReportEvent)
            .where(col(ReportEvent.report_id) == report_id, col(ReportEvent.kind) == event_kind)
            .order_by(col(ReportEvent.id).desc())
            .limit(1)
        )
    ).first()
    if event is None:
        raise ValueError(f"report {report_id} has no {event_kind} event to attach to")
    attachment = Attachment(
        report_id=report_id,
        event_id=event.id,
        kind=kind,
        file_name=file_name,
        mime_type=mime_type,
        size=size,
        sha256=sha256,
        path=path,
    )
    session.add(attachment)
    await session.flush()
    return attachment


async def open_report_numbers(session: AsyncSession, department_id: int) -> list[str]:
    """The reports a unit still owes something on (handling or owning, not finished), by number.

    A unit with any of these cannot be deactivated: nobody would sign for or answer them.
    """
    statement = (
        select(Report.number)
        .where(
            or_(
                col(Report.handling_department_id) == department_id,
                col(Report.owner_department_id) == department_id,
            ),
            col(Report.state).not_in(list(TERMINAL_STATES)),
        )
        .order_by(col(Report.number))
    )
    return list((await session.exec(statement)).all())


async def deactivate_department(session: AsyncSession, unit: Department) -> list[str]:
    """Take the unit off the list reporters choose from, unless it still owes something on open
    reports; returns those numbers (empty when it was deactivated)."""
    assert unit.id is not None
    numbers = await open_report_numbers(session, unit.id)
    if not numbers:
        unit.active = False
        session.add(unit)
        await session.flush()
    return numbers
