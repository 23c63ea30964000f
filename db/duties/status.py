"""Where each unit stands on a duty and period, as the office's `/duties status` shows it.

A cell is computed from the stored submission and the time, never stored: "missing" is a
submission still owed past its due time, so it changes by itself at midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.delivery.outbox import existing_keys
from db.duties.obligations import status_of
from db.duties.rules import filed_on_time
from db.models import Department, Obligation, Role, Submission, SubmissionState
from db.people.roles import Recipient, recipients_by_department


class Cell(StrEnum):
    accepted = "accepted"
    on_time = "on_time"
    """Filed by the due time, waiting for review."""
    late = "late"
    """Filed after the due time, waiting for review."""
    returned = "returned"
    missing = "missing"
    """Past the due time and nothing filed."""
    pending = "pending"
    """Nothing filed, not due yet."""


CELL_ORDER = (Cell.missing, Cell.late, Cell.on_time, Cell.returned, Cell.accepted, Cell.pending)
"""Counts are shown in this order: what needs chasing first."""


def cell_of(submission: Submission, now: datetime) -> Cell:
    state = SubmissionState(submission.state)
    if state is SubmissionState.accepted:
        return Cell.accepted
    if state is SubmissionState.returned:
        return Cell.returned
    if state is SubmissionState.submitted:
        return Cell.on_time if filed_on_time(status_of(submission)) else Cell.late
    return Cell.missing if now > submission.due_at else Cell.pending


@dataclass(frozen=True)
class UnitCell:
    department: Department
    submission: Submission
    cell: Cell


async def latest_period(session: AsyncSession, obligation_id: int) -> str | None:
    """The newest period opened for the duty (by due time), None before any."""
    statement = (
        select(Submission.period)
        .where(Submission.obligation_id == obligation_id)
        .order_by(col(Submission.due_at).desc(), col(Submission.period).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def opened_periods(session: AsyncSession, obligation_id: int) -> list[str]:
    """The periods opened for the duty so far, oldest key first: the only ones a status view or
    a reminder button may name."""
    statement = (
        select(Submission.period)
        .where(Submission.obligation_id == obligation_id)
        .distinct()
        .order_by(col(Submission.period))
    )
    return list((await session.exec(statement)).all())


async def unit_cells(
    session: AsyncSession, obligation_id: int, period: str, now: datetime
) -> list[UnitCell]:
    """Every unit's cell for one duty and period, missing first, then by unit code.

    A deactivated unit is left out unless it filed: it owes nothing any more (the scan does not
    chase it either), but what it filed stays on record."""
    rows = (
        await session.exec(
            select(Submission, Department)
            .join(Department, col(Department.id) == col(Submission.department_id))
            .where(
                Submission.obligation_id == obligation_id,
                Submission.period == period,
                or_(col(Department.active), col(Submission.rounds) > 0),
            )
            .order_by(col(Department.code))
        )
    ).all()
    cells = [UnitCell(d, s, cell_of(s, now)) for s, d in rows]
    return sorted(cells, key=lambda c: CELL_ORDER.index(c.cell))


def counts(cells: list[UnitCell]) -> dict[Cell, int]:
    found = {cell: 0 for cell in CELL_ORDER}
    for item in cells:
        found[item.cell] += 1
    return found


async def active_obligations(session: AsyncSession) -> list[Obligation]:
    statement = select(Obligation).where(col(Obligation.active)).order_by(col(Obligation.id))
    return list((await session.exec(statement)).all())


def remind_key(submission_id: int, day: date, telegram_id: int) -> str:
    """The outbox key of the office's "remind now" to one liaison: once per submission, liaison
    and local day, however often the button is pressed."""
    return f"duty-remind:{submission_id}:{day:%Y%m%d}:{telegram_id}"


@dataclass(frozen=True)
class Reminder:
    submission: Submission
    recipient: Recipient
    key: str


@dataclass
class RemindPlan:
    """Who the office's "remind now" reaches, unit by unit."""

    reminders: list[Reminder] = field(default_factory=list)
    """One per liaison not yet reminded today of a missing submission."""
    reminded: int = 0
    """Units with at least one liaison to remind now."""
    already: int = 0
    """Units whose every liaison was reminded today already."""
    unreachable: int = 0
    """Missing units without a reachable liaison."""


async def plan_reminders(
    session: AsyncSession, obligation_id: int, period: str, now: datetime, today: date
) -> RemindPlan:
    """The liaisons of every unit still missing the period, each at most once a day."""
    missing = [
        c for c in await unit_cells(session, obligation_id, period, now) if c.cell is Cell.missing
    ]
    liaisons = await recipients_by_department(session, frozenset({Role.liaison}))
    wanted: list[Reminder] = []
    for item in missing:
        assert item.submission.id is not None
        for person in liaisons.get(item.submission.department_id, []):
            key = remind_key(item.submission.id, today, person.telegram_id)
            wanted.append(Reminder(item.submission, person, key))
    sent = await existing_keys(session, [r.key for r in wanted])
    plan = RemindPlan(reminders=[r for r in wanted if r.key not in sent])
    for item in missing:
        mine = [r for r in wanted if r.submission is item.submission]
        if not mine:
            plan.unreachable += 1
        elif any(r.key not in sent for r in mine):
            plan.reminded += 1
        else:
            plan.already += 1
    return plan
