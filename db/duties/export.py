"""The rows of the duties workbook: submissions due in a period and the ledger items of it.

A submission belongs to the period its (first) due time falls in; a ledger item belongs to it
when it was recorded or falls due in it, so an item found in March and due in June is in both
quarters' exports. Names of people are never exported, only units and the free-text 责任人.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import end_of_day
from db.duties.obligations import status_of
from db.duties.rules import filed_on_time
from db.models import (
    Category,
    Department,
    LedgerSource,
    LedgerState,
    Obligation,
    ObligationKind,
    RectificationItem,
    ReviewDecision,
    Submission,
    SubmissionRound,
    SubmissionState,
)
from db.queries import select_rows


@dataclass(frozen=True)
class SubmissionRow:
    duty: str
    kind: ObligationKind
    unit_code: str
    unit_name: str
    period: str
    due_at: datetime
    first_submitted_at: datetime | None
    on_time: bool | None
    rounds: int
    state: SubmissionState
    decision: ReviewDecision | None
    comment: str | None


@dataclass(frozen=True)
class LedgerRow:
    item_id: int
    unit_code: str
    unit_name: str
    source: LedgerSource
    category: Category | None
    description: str
    measure: str | None
    owner: str | None
    due_at: datetime
    state: LedgerState
    done_at: datetime | None
    confirmed_at: datetime | None


def bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local days `first` to `last` (inclusive) as aware moments."""
    return datetime.combine(first, time(0), tzinfo=tz), end_of_day(last, tz)


async def submission_rows(
    session: AsyncSession, start: datetime, end: datetime
) -> AsyncIterator[SubmissionRow]:
    """With each submission its last decided round's verdict, joined in: one statement."""
    decided = (
        select(SubmissionRound.submission_id, func.max(SubmissionRound.number).label("number"))
        .where(col(SubmissionRound.decision).is_not(None))
        .group_by(col(SubmissionRound.submission_id))
        .subquery()
    )
    statement = (
        select_rows(
            Submission,
            Obligation,
            Department,
            col(SubmissionRound.decision),
            col(SubmissionRound.comment),
        )
        .join(Obligation, col(Obligation.id) == col(Submission.obligation_id))
        .join(Department, col(Department.id) == col(Submission.department_id))
        .outerjoin(decided, decided.c.submission_id == col(Submission.id))
        .outerjoin(
            SubmissionRound,
            and_(
                col(SubmissionRound.submission_id) == decided.c.submission_id,
                col(SubmissionRound.number) == decided.c.number,
            ),
        )
        .where(col(Submission.due_at) >= start, col(Submission.due_at) <= end)
        .order_by(col(Obligation.id), col(Submission.period), col(Department.code))
    )
    rows = (await session.exec(statement)).all()
    for submission, obligation, department, decision, comment in rows:
        yield SubmissionRow(
            duty=obligation.title,
            kind=ObligationKind(obligation.kind),
            unit_code=department.code,
            unit_name=department.name,
            period=submission.period,
            due_at=submission.due_at,
            first_submitted_at=submission.first_submitted_at,
            on_time=filed_on_time(status_of(submission)),
            rounds=submission.rounds,
            state=SubmissionState(submission.state),
            decision=ReviewDecision(decision) if decision else None,
            comment=comment,
        )


async def ledger_rows(
    session: AsyncSession, start: datetime, end: datetime
) -> AsyncIterator[LedgerRow]:
    statement = (
        select(RectificationItem, Department, Category)
        .join(Department, col(Department.id) == col(RectificationItem.department_id))
        .outerjoin(Category, col(Category.id) == col(RectificationItem.category_id))
        .where(
            or_(
                col(RectificationItem.created_at).between(start, end),
                col(RectificationItem.due_at).between(start, end),
            )
        )
        .order_by(col(Department.code), col(RectificationItem.id))
    )
    for item, department, category in (await session.exec(statement)).all():
        assert item.id is not None
        yield LedgerRow(
            item_id=item.id,
            unit_code=department.code,
            unit_name=department.name,
            source=LedgerSource(item.source),
            category=category,
            description=item.description,
            measure=item.measure,
            owner=item.owner_name,
            due_at=item.due_at,
            state=LedgerState(item.state),
            done_at=item.done_at,
            confirmed_at=item.confirmed_at,
        )
