"""Rounds, ballots and service ratings made directly through the models, for the anomaly tests
(the flows that make them in the bot are tested with those flows)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Account,
    AppraisalRound,
    Ballot,
    Department,
    DepartmentKind,
    Role,
    RoleGrant,
    RoundState,
    RoundUnit,
    ServiceRating,
    ServiceRatingValue,
)

DIMENSIONS = ["服务态度", "办事效率", "依法行政", "廉洁自律", "总体满意"]


async def unit(session: AsyncSession, code: str, name: str) -> int:
    row = Department(code=code, name=name, kind=DepartmentKind.window)
    session.add(row)
    await session.flush()
    assert row.id is not None
    return row.id


async def account(
    session: AsyncSession, telegram_id: int, created_at: datetime, *, evaluator: bool = False
) -> int:
    row = Account(telegram_id=telegram_id, created_at=created_at)
    session.add(row)
    await session.flush()
    assert row.id is not None
    if evaluator:
        session.add(
            RoleGrant(account_id=row.id, role=Role.evaluator, group_id=1, granted_at=created_at)
        )
    return row.id


async def appraisal_round(
    session: AsyncSession,
    units: list[int],
    closes_at: datetime,
    *,
    closed: bool = True,
    quarter: str | None = "2026-Q1",
) -> AppraisalRound:
    row = AppraisalRound(
        title="百家企业评政风",
        period="2026年第1季度",
        quarter=quarter,
        dimensions=json.dumps(DIMENSIONS, ensure_ascii=False),
        closes_on=closes_at.date(),
        closes_at=closes_at,
        state=RoundState.closed if closed else RoundState.open,
        closed_at=closes_at if closed else None,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    for position, department_id in enumerate(units):
        session.add(RoundUnit(round_id=row.id, department_id=department_id, position=position))
    await session.flush()
    return row


async def ballot(
    session: AsyncSession,
    round_id: int,
    department_id: int,
    account_id: int,
    marks: list[int] | None,
    at: datetime,
) -> int:
    row = Ballot(
        round_id=round_id,
        department_id=department_id,
        account_id=account_id,
        group_id=1,
        scores=None if marks is None else json.dumps(marks),
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return row.id


async def service_rating(
    session: AsyncSession,
    department_id: int,
    account_id: int,
    on: date,
    value: ServiceRatingValue = ServiceRatingValue.satisfied,
) -> int:
    at = datetime(on.year, on.month, on.day, 2, 0, tzinfo=UTC)
    row = ServiceRating(
        department_id=department_id,
        account_id=account_id,
        value=value,
        rated_on=on,
        day_key=on.isoformat(),
        created_at=at,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return row.id


def days(n: int) -> timedelta:
    return timedelta(days=n)
