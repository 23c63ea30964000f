"""`db.office.digest`: the month, the score, the ranking and the 红黑榜 of a hand-computed month.

The month is the one of `tests/db/cases/test_case_metrics.py` (built through the real case handling
on SQLite and PostgreSQL); its figures are checked there, the score and ranking here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.cases.metrics import DepartmentMetrics
from db.cases.rules import Limits
from db.engine import session_factory
from db.office.digest import (
    DepartmentFigures,
    Digest,
    ScoreWeights,
    build_digest,
    score,
)
from tests.db.cases.test_case_metrics import CALENDAR, END, NOW, START, TZ, _month, _world

MARCH = date(2026, 3, 1)
WEIGHTS = ScoreWeights()  # 及时签收 0.2, 按时办结 0.3, 满意 0.3, 回退 0.05, 重办 0.05, 超期 0.1


async def test_digest_of_the_hand_computed_month(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        numbers = await _month(session, world)
        a, b, c, d = world.departments
        digest = await build_digest(
            session, MARCH, NOW, calendar=CALENDAR, tz=TZ, limits=Limits(), weights=WEIGHTS
        )

    assert (digest.start, digest.end) == (START, END)
    by_id = {f.department_id: f for f in digest.departments}
    assert by_id[a].metrics.received == 4 and by_id[c].metrics.open_now == 3
    assert digest.totals.received == 8 and digest.totals.overdue_now == 3
    assert by_id[a].overdue_numbers == (numbers["r4"],)
    assert by_id[d].overdue_numbers == ()
    assert by_id[a].name == "部门0" and by_id[a].code == "M0"

    # Scores by hand, rate by rate (g = rate, or 1 - rate for a penalty).
    # A: 及时签收 1/4, 按时办结 3/3, 满意 2/3, 回退 1/4, 重办 1/3, 超期 1/1.
    score_a = 0.2 * 0.25 + 0.3 * 1 + 0.3 * 2 / 3 + 0.05 * 0.75 + 0.05 * 2 / 3 + 0.1 * 0
    # B: 2/2, 2/2, 0/2, 0/2, 1/2, 1/2 (open: r5 and r7, r7 overdue).
    score_b = 0.2 * 1 + 0.3 * 1 + 0.3 * 0 + 0.05 * 1 + 0.05 * 0.5 + 0.1 * 0.5
    # C: 1/1 (r10's sign due has not passed: not in the rate), 1/2, no rating (left out of both
    # sums), 0/2, 0/2, 1/3.
    score_c = (0.2 * 1 + 0.3 * 0.5 + 0.05 * 1 + 0.05 * 1 + 0.1 * 2 / 3) / 0.7
    assert by_id[a].score == pytest.approx(100 * score_a)
    assert by_id[b].score == pytest.approx(100 * score_b)
    assert by_id[c].score == pytest.approx(100 * score_c)
    assert by_id[d].score is None and by_id[d].rank is None  # no report received: not ranked

    assert [f.department_id for f in digest.departments] == [c, b, a, d]
    assert [f.rank for f in digest.departments] == [1, 2, 3, None]
    assert [f.department_id for f in digest.top] == [c, b, a]
    assert digest.bottom == ()  # three ranked: nobody is on both lists
    assert [f.department_id for f in digest.unranked] == [d]


def _figures(i: int, value: float | None, received: int = 1) -> DepartmentFigures:
    return DepartmentFigures(
        department_id=i,
        code=f"D{i:02d}",
        name=f"单位{i}",
        metrics=DepartmentMetrics(i, received=received),
        overdue_numbers=(),
        score=value,
        rank=None,
    )


def test_top_and_bottom_five_of_twelve() -> None:
    ranked = [replace(_figures(i, 100.0 - i), rank=i) for i in range(1, 13)]
    digest = Digest(
        month=MARCH,
        start=START,
        end=END,
        now=NOW,
        departments=(*ranked, _figures(99, None, received=0)),
        totals=DepartmentMetrics(None),
        weights=WEIGHTS,
    )
    assert [f.department_id for f in digest.top] == [1, 2, 3, 4, 5]
    assert [f.department_id for f in digest.bottom] == [12, 11, 10, 9, 8]  # worst first
    seven = replace(digest, departments=tuple(ranked[:7]))
    assert [f.department_id for f in seven.bottom] == [7, 6]


def test_score_weights_and_undefined_rates() -> None:
    metrics = DepartmentMetrics(
        1, received=4, signed_on_time=3, sign_decided=4, returned=4, open_now=2
    )
    # Only 及时签收 (3/4), 回退 (4/4, so g = 0) and 超期 (0/2, so g = 1) are defined.
    expected = (0.2 * 0.75 + 0.05 * 0 + 0.1 * 1) / (0.2 + 0.05 + 0.1)
    assert score(metrics, WEIGHTS) == pytest.approx(100 * expected)
    only_returned = ScoreWeights(0, 0, 0, 1, 0, 0)
    assert score(metrics, only_returned) == 0
    only_satisfaction = ScoreWeights(0, 0, 1, 0, 0, 0)
    assert score(metrics, only_satisfaction) is None  # nothing weighted is defined
    with pytest.raises(ValueError):
        ScoreWeights(0, 0, 0, 0, 0, 0, 0, 0)
    with pytest.raises(ValueError):
        ScoreWeights(signed_on_time=-1)


async def test_equal_scores_share_a_rank(engine: AsyncEngine) -> None:
    from db.models import Department, DepartmentKind
    from tests.db.cases.test_case_metrics import MON, _report

    async with session_factory(engine)() as session:
        world = await _world(session)
        a, b, c, _d = world.departments
        for department_id in (c, a, b):
            await _report(session, world, department_id, MON)  # each: one unsigned report
        session.add(
            Department(code="Z9", name="停用单位", kind=DepartmentKind.window, active=False)
        )
        await session.commit()
        digest = await build_digest(
            session, MARCH, NOW, calendar=CALENDAR, tz=TZ, limits=Limits(), weights=WEIGHTS
        )
    ranked = digest.ranked
    assert [f.rank for f in ranked] == [1, 1, 1]
    assert [f.code for f in ranked] == ["M0", "M1", "M2"]  # ties by code
    assert "Z9" not in [f.code for f in digest.departments]  # inactive and idle: not listed
