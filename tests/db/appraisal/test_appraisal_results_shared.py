"""A round's results (`db.appraisal.results`): the means, the score on 100 and what does not count,
against figures worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.appraisal.results import compute_round_results, unit_result
from db.models import (
    Account,
    AppraisalRound,
    Ballot,
    Department,
    DepartmentKind,
    RoundResult,
    RoundUnit,
)

NOW = datetime(2026, 12, 31, 16, tzinfo=UTC)


def test_means_and_score_by_hand() -> None:
    # Two dimensions on 1-5. Marks (5, 4), (3, 4) and a skip: means 4.0 and 4.0, score 80.
    result = unit_result(7, [[5, 4], [3, 4], None], dimensions=2, scale_max=5)
    assert result.means == (4.0, 4.0)
    assert result.ballots == 2
    assert result.skipped == 1
    assert result.score == pytest.approx(80.0)


def test_a_dimension_nobody_marked_leaves_the_average() -> None:
    # Only the first of three dimensions has marks (old ballots of a shorter form): 3/5 = 60.
    result = unit_result(1, [[3]], dimensions=3, scale_max=5)
    assert result.means == (3.0, None, None)
    assert result.score == pytest.approx(60.0)


def test_a_unit_without_marks_has_no_score() -> None:
    result = unit_result(1, [None, None], dimensions=5, scale_max=5)
    assert result.score is None
    assert result.ballots == 0
    assert result.skipped == 2


async def test_frozen_results_leave_out_excluded_ballots(session: AsyncSession) -> None:
    units = [
        Department(code=f"T{n}", name=f"单位{n}", kind=DepartmentKind.department) for n in (1, 2)
    ]
    people = [Account(telegram_id=9000 + n) for n in range(3)]
    session.add_all([*units, *people])
    await session.flush()
    round_ = AppraisalRound(
        title="百家企业评政风",
        period="2026年第4季度",
        quarter="2026-Q4",
        dimensions=json.dumps(["服务态度", "办事效率"]),
        closes_on=date(2026, 12, 31),
        closes_at=NOW,
    )
    session.add(round_)
    await session.flush()
    assert round_.id is not None and units[0].id and units[1].id
    for position, unit in enumerate(units):
        assert unit.id is not None
        session.add(RoundUnit(round_id=round_.id, department_id=unit.id, position=position))
    marks = [[5, 5], [4, 3], [1, 1]]
    for person, mark in zip(people, marks, strict=True):
        assert person.id is not None
        session.add(
            Ballot(
                round_id=round_.id,
                department_id=units[0].id,
                account_id=person.id,
                scores=json.dumps(mark),
                excluded_at=NOW if mark == [1, 1] else None,
            )
        )
    await session.flush()

    await compute_round_results(session, round_, NOW)
    await compute_round_results(session, round_, NOW)  # again: replaced, not doubled
    rows = {r.department_id: r for r in (await session.exec(select(RoundResult))).all()}
    assert set(rows) == {units[0].id, units[1].id}
    first = rows[units[0].id]
    # (5+4)/2 = 4.5 and (5+3)/2 = 4.0; mean 4.25 of 5 = 85; the excluded [1, 1] does not count.
    assert json.loads(first.means) == [4.5, 4.0]
    assert first.ballots == 2
    assert first.score == pytest.approx(85.0)
    assert rows[units[1].id].score is None
