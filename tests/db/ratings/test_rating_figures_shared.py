"""Each unit's post-service rating figures over a span of days, and a unit's poster token."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import (
    Account,
    Department,
    DepartmentKind,
    RatingLink,
    ServiceRating,
    ServiceRatingValue,
)
from db.ratings.figures import rating_figures
from db.ratings.links import link_for_token, poster_token, rating_deep_link

NOW = datetime(2026, 12, 4, 2, tzinfo=UTC)


async def _unit(session: AsyncSession, code: str) -> int:
    unit = Department(code=code, name=f"窗口{code}", kind=DepartmentKind.window)
    session.add(unit)
    await session.flush()
    assert unit.id is not None
    return unit.id


async def test_figures_count_the_span_and_skip_exclusions(session: AsyncSession) -> None:
    window = await _unit(session, "W901")
    other = await _unit(session, "W902")
    people = [Account(telegram_id=7000 + n) for n in range(6)]
    session.add_all(people)
    await session.flush()
    rows = [
        (window, ServiceRatingValue.satisfied, date(2026, 11, 2), False),
        (window, ServiceRatingValue.basic, date(2026, 11, 30), False),
        (window, ServiceRatingValue.unsatisfied, date(2026, 11, 15), False),
        (window, ServiceRatingValue.unsatisfied, date(2026, 11, 16), True),  # excluded
        (window, ServiceRatingValue.satisfied, date(2026, 12, 1), False),  # next month
        (other, ServiceRatingValue.unsatisfied, date(2026, 11, 3), False),
    ]
    for person, (unit, value, day, excluded) in zip(people, rows, strict=True):
        assert person.id is not None
        session.add(
            ServiceRating(
                department_id=unit,
                account_id=person.id,
                value=value,
                rated_on=day,
                day_key=day.isoformat(),
                excluded_at=NOW if excluded else None,
            )
        )
    await session.flush()
    figures = await rating_figures(session, date(2026, 11, 1), date(2026, 11, 30))
    assert set(figures) == {window, other}
    assert (figures[window].ratings, figures[window].unsatisfied) == (3, 1)
    # 满意 and 基本满意 both count as satisfied: 2 of 3.
    assert figures[window].satisfaction_rate == pytest.approx(2 / 3)
    assert figures[other].satisfaction_rate == 0


async def test_a_poster_keeps_its_token(session: AsyncSession) -> None:
    window = await _unit(session, "W903")
    first = await poster_token(session, window, NOW)
    assert await poster_token(session, window, NOW) == first
    link = await link_for_token(session, first)
    assert link is not None and link.department_id == window
    assert (await session.exec(select(RatingLink))).all() == [link]
    assert rating_deep_link("@zf_bot", first) == f"https://t.me/zf_bot?start=rate-{first}"
    assert len(f"rate-{first}") <= 64
    assert await link_for_token(session, first + "x") is None
