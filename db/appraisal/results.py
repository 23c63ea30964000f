"""A round's results: per unit the mean of each dimension, the ballots counted and a score on 100.

Computed once when the round closes and frozen in `round_result`, so that a bulletin or the
public page shows the same figures however often it is read; computed again only when an admin
excludes a ballot (`/exclude`), which is the one reason the figures may change after the close.

Score = 100 × (mean of the dimension means) / scale top: 4.5 on a 1–5 scale is 90. A dimension
no counted ballot marked has no mean and leaves the average; a unit without counted ballots has
no score (it is not ranked, rather than ranked last).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import AppraisalRound, Ballot, RoundResult, RoundUnit


@dataclass(frozen=True)
class UnitResult:
    department_id: int
    ballots: int
    skipped: int
    means: tuple[float | None, ...]
    score: float | None


def dimensions_of(round_: AppraisalRound) -> list[str]:
    names = json.loads(round_.dimensions)
    return [str(name) for name in names]


def scores_of(ballot: Ballot) -> list[int] | None:
    """The ballot's marks, one per dimension; None when the evaluator skipped the unit."""
    if ballot.scores is None:
        return None
    return [int(value) for value in json.loads(ballot.scores)]


def unit_result(
    department_id: int,
    marks: list[list[int] | None],
    dimensions: int,
    scale_max: int,
) -> UnitResult:
    """The figures of one unit from its counted ballots' marks (None: skipped)."""
    marked = [m for m in marks if m is not None]
    means: list[float | None] = []
    for index in range(dimensions):
        values = [m[index] for m in marked if index < len(m)]
        means.append(round(sum(values) / len(values), 4) if values else None)
    defined = [m for m in means if m is not None]
    score = round(100 * (sum(defined) / len(defined)) / scale_max, 2) if defined else None
    return UnitResult(
        department_id=department_id,
        ballots=len(marked),
        skipped=len(marks) - len(marked),
        means=tuple(means),
        score=score,
    )


async def compute_round_results(
    session: AsyncSession, round_: AppraisalRound, now: datetime
) -> list[UnitResult]:
    """Compute and store (replacing any earlier) the round's results; excluded ballots do not
    count. Callers commit."""
    assert round_.id is not None
    unit_ids = (
        await session.exec(
            select(RoundUnit.department_id)
            .where(RoundUnit.round_id == round_.id)
            .order_by(col(RoundUnit.position), col(RoundUnit.department_id))
        )
    ).all()
    ballots = (
        await session.exec(
            select(Ballot).where(Ballot.round_id == round_.id, col(Ballot.excluded_at).is_(None))
        )
    ).all()
    marks: dict[int, list[list[int] | None]] = {unit: [] for unit in unit_ids}
    for ballot in ballots:
        marks.setdefault(ballot.department_id, []).append(scores_of(ballot))
    dimensions = len(dimensions_of(round_))
    results = [
        unit_result(unit, unit_marks, dimensions, round_.scale_max)
        for unit, unit_marks in marks.items()
    ]
    await session.exec(delete(RoundResult).where(col(RoundResult.round_id) == round_.id))
    for result in results:
        session.add(
            RoundResult(
                round_id=round_.id,
                department_id=result.department_id,
                ballots=result.ballots,
                skipped=result.skipped,
                means=json.dumps(result.means),
                score=result.score,
                computed_at=now,
            )
        )
    await session.flush()
    return results
