"""What the office and a unit's leaders read each working day: the reports past their deadlines.

A 督办 per report and per recipient does not survive a city's scale: a backlog of tens of thousands
of overdue reports would send one admin as many messages. The liaisons, who act on each report,
still get one message per report (it carries the report's number for its buttons); the admins and
a unit's leaders, who oversee, get one summary a day instead: how many, the most overdue first,
cut to fit one message. "Overdue" is `/cases overdue`'s condition, so the summary and the list it
points to agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.rules import DueKind, OwnerKind
from db.cases.search import overdue_condition
from db.models import Department, Report
from db.queries import select_rows

LISTED = 40
"""Reports named in one summary at most; a Telegram message holds about that many lines."""


@dataclass(frozen=True)
class OverdueLine:
    number: str
    unit: str | None
    """The unit that owes it; None when the office does (triage, routing it again)."""
    due_kind: DueKind
    due_at: datetime


@dataclass(frozen=True)
class OverdueList:
    total: int
    lines: tuple[OverdueLine, ...]
    """The most overdue first, at most `LISTED`."""


async def overdue_units(session: AsyncSession, now: datetime) -> dict[int, int]:
    """Unit id → how many reports it owes past their deadline (units owing none are absent)."""
    statement = (
        select(col(Report.owner_department_id), func.count())
        .where(
            overdue_condition(now),
            col(Report.owner_kind) == OwnerKind.department.value,
            col(Report.owner_department_id).is_not(None),
        )
        .group_by(col(Report.owner_department_id))
    )
    return {unit: int(count) for unit, count in (await session.exec(statement)).all() if unit}


async def overdue_list(
    session: AsyncSession, now: datetime, *, department_id: int | None = None, limit: int = LISTED
) -> OverdueList:
    """Every overdue report (the office's view), or those a unit owes (its leaders' view)."""
    conditions = [overdue_condition(now)]
    if department_id is not None:
        conditions += [
            col(Report.owner_kind) == OwnerKind.department.value,
            col(Report.owner_department_id) == department_id,
        ]
    total = int(
        await session.scalar(select(func.count()).select_from(Report).where(*conditions)) or 0
    )
    if not total:
        return OverdueList(0, ())
    statement = (
        select_rows(
            col(Report.number),
            col(Department.name),
            col(Report.owner_kind),
            col(Report.due_kind),
            col(Report.due_at),
        )
        .outerjoin(Department, col(Department.id) == col(Report.owner_department_id))
        .where(*conditions)
        .order_by(col(Report.due_at), col(Report.id))
        .limit(limit)
    )
    lines = tuple(
        OverdueLine(
            number=number,
            unit=unit if owner_kind == OwnerKind.department.value else None,
            due_kind=DueKind(due_kind),
            due_at=due_at,
        )
        for number, unit, owner_kind, due_kind, due_at in (await session.exec(statement)).all()
    )
    return OverdueList(total, lines)
