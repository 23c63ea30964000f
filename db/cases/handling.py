"""Storing and applying the handling case of a report (`db.cases.rules` on the `report` row).

`db.cases.rules` decides; this module loads a `Case` from its report, applies one command and
writes the new case and its timeline event back. The write is a compare-and-set on
`Report.version` (``UPDATE report SET …, version = version + 1 WHERE id = :id AND version =
:seen``) rather than a row lock, because it works the same on SQLite (which has no ``SELECT …
FOR UPDATE``) and PostgreSQL, and because the version changes with every write, including an
extension request that leaves the state alone. When two liaisons press 签收 at once, both may
read version n; the first UPDATE moves it to n + 1, so the second matches no row and is refused
as `wrong_state` — exactly one wins, and the loser writes nothing.

Functions here flush but never commit: the caller owns the transaction, so a command and
whatever the caller does with its result (notifications queued in the same database, say)
commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.audit import record
from db.calendar.workdays import WorkCalendar, load_calendar
from db.cases.rules import (
    Actor,
    Applied,
    Case,
    CloseUnrated,
    Command,
    DueKind,
    ExtensionRequest,
    Limits,
    Owner,
    OwnerKind,
    Rate,
    Rating,
    RefusalReason,
    Refused,
    apply,
    new_case,
)
from db.cases.rules import auto_assign as auto_assign_rule
from db.models import Category, CategoryKind, EventKind, Report, ReportEvent, ReportState

CONSULTATION_REPLY_DAYS = 5
"""A consultation (咨询) is a question, not a grievance: it is answered faster than a complaint."""


def case_of(report: Report) -> Case:
    """The case stored on a report; the exact inverse of `write_case`."""
    owner: Owner | None = None
    if report.owner_kind is not None:
        owner = Owner(OwnerKind(report.owner_kind), report.owner_department_id)
    pending: ExtensionRequest | None = None
    if report.extension_requested_at is not None:
        # The three columns are written together; a half-written request is corrupt data.
        if report.extension_days is None or report.extension_reason is None:
            raise ValueError(f"report {report.id}: incomplete pending extension request")
        pending = ExtensionRequest(
            report.extension_days, report.extension_reason, report.extension_requested_at
        )
    return Case(
        state=report.state,
        owner=owner,
        due_at=report.due_at,
        due_kind=DueKind(report.due_kind) if report.due_kind is not None else None,
        department_id=report.handling_department_id,
        assigned_at=report.assigned_at,
        signed_at=report.signed_at,
        replied_at=report.replied_at,
        extension_used=report.extension_used,
        extension_pending=pending,
        reopen_count=report.reopen_count,
        conflict_department_id=report.conflict_department_id,
        rating=Rating(report.rating) if report.rating is not None else None,
        merged_into=report.merged_into_id,
    )


def _case_values(case: Case) -> dict[str, Any]:
    """The report columns of a case, shared by `write_case` and the compare-and-set UPDATE so
    the two ways of writing can never disagree."""
    pending = case.extension_pending
    return {
        "state": case.state,
        "owner_kind": case.owner.kind.value if case.owner is not None else None,
        "owner_department_id": case.owner.department_id if case.owner is not None else None,
        "due_at": case.due_at,
        "due_kind": case.due_kind.value if case.due_kind is not None else None,
        "handling_department_id": case.department_id,
        "assigned_at": case.assigned_at,
        "signed_at": case.signed_at,
        "replied_at": case.replied_at,
        "extension_used": case.extension_used,
        "extension_days": pending.days if pending is not None else None,
        "extension_reason": pending.reason if pending is not None else None,
        "extension_requested_at": pending.requested_at if pending is not None else None,
        "reopen_count": case.reopen_count,
        "conflict_department_id": case.conflict_department_id,
        "rating": case.rating.value if case.rating is not None else None,
        "merged_into_id": case.merged_into,
    }


def write_case(report: Report, case: Case) -> None:
    """Put a case on an in-memory report (no version bump: for a report nobody else can see
    yet, or for tests; concurrent writers go through `apply_command`)."""
    for name, value in _case_values(case).items():
        setattr(report, name, value)


def limits_for(
    category: Category, base: Limits, *, consultation_reply_days: int = CONSULTATION_REPLY_DAYS
) -> Limits:
    """The limits for a report of this category: `base` (configured, complaint reply days) for a
    complaint, the shorter consultation reply time for a consultation, and over both the days an
    admin set on the category itself (`/category_limits`), which are the office's latest word."""
    limits = base
    if category.kind is CategoryKind.consultation:
        limits = replace(limits, reply_days=consultation_reply_days)
    if category.sign_days is not None:
        limits = replace(limits, sign_days=category.sign_days)
    if category.reply_days is not None:
        limits = replace(limits, reply_days=category.reply_days)
    return limits


@dataclass(frozen=True)
class ConfiguredLimits:
    """The limits the office configured (`[deadlines]`): a complaint's, and the shorter reply to
    a consultation; a category may still set its own days over both (`limits_for`)."""

    base: Limits
    consultation_reply_days: int = CONSULTATION_REPLY_DAYS


async def category_limits(
    session: AsyncSession, category_id: int, configured: ConfiguredLimits
) -> Limits:
    """The limits a report of this category is held to."""
    category = await session.get(Category, category_id)
    assert category is not None
    return limits_for(
        category, configured.base, consultation_reply_days=configured.consultation_reply_days
    )


async def _load(session: AsyncSession, report_id: int) -> Report | None:
    # populate_existing: the identity map may hold a copy read before another session's commit,
    # and a stale version would make a correct command lose its compare-and-set.
    result = await session.exec(
        select(Report).where(col(Report.id) == report_id).execution_options(populate_existing=True)
    )
    return result.first()


_MEASURED_DUE = {EventKind.signed: DueKind.sign, EventKind.replied: DueKind.reply}
"""The event kinds that are measured against a due time, and the due kind they must meet."""


def _measured_due(before: Case | None, kind: EventKind) -> datetime | None:
    """The due time in force before the command, when the event is measured against it: the
    sign due for `signed`, the reply due for `replied`. None for any other event, or when the
    case before did not carry that kind of due."""
    expected = _MEASURED_DUE.get(kind)
    if before is None or expected is None or before.due_kind is not expected:
        return None
    return before.due_at


def _event(
    report_id: int, applied: Applied, actor: Actor, now: datetime, before: Case | None
) -> ReportEvent:
    spec = applied.event
    return ReportEvent(
        report_id=report_id,
        department_id=applied.case.department_id,
        kind=spec.kind,
        actor_account_id=actor.account_id,
        actor_role=spec.actor_role.value,
        public=spec.public,
        body=spec.body,
        created_at=now,
        due_at=_measured_due(before, spec.kind),
    )


async def store_applied(
    session: AsyncSession,
    report_id: int,
    seen_version: int,
    applied: Applied,
    actor: Actor,
    now: datetime,
    *,
    before: Case,
    extra_values: Mapping[str, object] | None = None,
) -> bool:
    """Write an applied command if the report is still at `seen_version`; False (and nothing
    written) when another command got there first.

    `before` is the case the command was applied to: its due time is stored on a `signed` or
    `replied` event (`ReportEvent.due_at`), so the on-time figures of `db.cases.metrics` are exact.

    The UPDATE bypasses the identity map: refresh a `Report` you hold to see the new case.
    """
    values: dict[str, object] = {**_case_values(applied.case), **(extra_values or {})}
    result = await session.exec(
        update(Report)
        .where(col(Report.id) == report_id, col(Report.version) == seen_version)
        .values(**values, updated_at=now, version=col(Report.version) + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    session.add(_event(report_id, applied, actor, now, before))
    await session.flush()
    return True


async def apply_command(
    session: AsyncSession,
    report_id: int,
    command: Command,
    actor: Actor,
    now: datetime,
    calendar: WorkCalendar,
    limits: Limits,
    tz: ZoneInfo,
) -> Applied | Refused:
    """Load, apply the rules, and store the result atomically (see the module notes).

    A report that does not exist is refused as `wrong_state`, like a stale button: callback data
    is never trusted, and the caller shows the same "already handled" answer either way.
    """
    report = await _load(session, report_id)
    if report is None:
        return Refused(RefusalReason.wrong_state)
    seen = report.version
    before = case_of(report)
    outcome = apply(before, command, actor, now, calendar, limits, tz)
    if isinstance(outcome, Refused):
        return outcome
    extra = _comment_values(command, outcome)
    stored = await store_applied(
        session, report_id, seen, outcome, actor, now, before=before, extra_values=extra
    )
    if not stored:
        return Refused(RefusalReason.wrong_state)
    # Callers holding this report (it is in the identity map) see the case just written.
    await session.refresh(report)
    return outcome


def _comment_values(command: Command, applied: Applied) -> dict[str, object]:
    """The rating comment follows the rating: set by every rating, cleared with it (未评价)."""
    if isinstance(command, Rate):
        return {"rating_comment": applied.event.body}
    if applied.case.rating is None:
        return {"rating_comment": None}
    return {}


async def apply_for(
    session: AsyncSession,
    report: Report,
    command: Command,
    actor: Actor,
    now: datetime,
    configured: ConfiguredLimits,
    tz: ZoneInfo,
) -> Applied | Refused:
    """One command on a report's case by a person: the limits of its category, today's
    calendar, and for an admin's decision its audit event in the same transaction, so the trail
    can neither miss a decision nor show one that was rolled back."""
    assert report.id is not None
    before = report.state
    outcome = await apply_command(
        session,
        report.id,
        command,
        actor,
        now,
        await load_calendar(session),
        await category_limits(session, report.category_id, configured),
        tz,
    )
    if actor.is_admin and isinstance(outcome, Applied):
        await record(
            session,
            actor_account_id=actor.account_id,
            action=f"case.{outcome.event.kind.value}",
            subject=report.number,
            now=now,
            before={"state": before.value},
            after={"state": outcome.case.state.value, "department_id": outcome.case.department_id},
        )
    return outcome


async def open_case(
    session: AsyncSession,
    report: Report,
    now: datetime,
    calendar: WorkCalendar,
    limits: Limits,
    tz: ZoneInfo,
    *,
    auto_assign: bool,
    conflict_department_id: int | None = None,
) -> None:
    """Start handling a report just created in this transaction: the office's inbox with a
    triage due time, or, with `auto_assign` and a department picked by the reporter, straight to
    that department (`routing.auto_assign`) with the system's `accepted` event.

    No compare-and-set is needed: nobody else can see the report before the caller commits.
    """
    if report.id is None:
        raise ValueError("flush the report before opening its case")
    case = new_case(now, calendar, limits, tz, conflict_department_id)
    if auto_assign and report.department_id is not None:
        outcome = auto_assign_rule(case, report.department_id, now, calendar, limits, tz)
        if isinstance(outcome, Applied):
            case = outcome.case
            session.add(_event(report.id, outcome, Actor.system(), now, case))
    write_case(report, case)
    report.updated_at = now
    session.add(report)
    await session.flush()


async def close_unrated(
    session: AsyncSession,
    now: datetime,
    calendar: WorkCalendar,
    limits: Limits,
    tz: ZoneInfo,
    *,
    batch: int = 200,
) -> list[str]:
    """Close answered reports whose rating time has passed as 未评价; returns their numbers.

    Each goes through the rules like any command, so a reporter rating at the same moment either
    wins (the close is refused) or loses (the rating is refused); never both.
    """
    statement = (
        select(Report.id, Report.number)
        .where(
            # An answered report's due time is its rating time; naming the kind lets SQLite walk
            # ix_report_due_kind_due_at in order instead of sorting every answered report.
            col(Report.due_kind) == DueKind.rating.value,
            col(Report.state) == ReportState.replied,
            col(Report.due_at) < now,
        )
        .order_by(col(Report.due_at))
        .limit(batch)
    )
    closed = []
    for report_id, number in (await session.exec(statement)).all():
        assert report_id is not None
        outcome = await apply_command(
            session, report_id, CloseUnrated(), Actor.system(), now, calendar, limits, tz
        )
        if isinstance(outcome, Applied):
            closed.append(number)
    return closed
