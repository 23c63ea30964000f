"""The quarterly score (季度得分) and the ranking, as plain functions of a unit's rates.

Score, 0–100, higher is better. Each component becomes a "goodness" g in [0, 1], as in the monthly
digest (`db.office.digest`, whose approach this follows over a quarter instead of a month):

* g = rate for 及时签收率 (`signed_on_time`), 按时办结率 (`answered_on_time`), 满意率 of the
  reports (`satisfaction`), 按时报送率 (`submissions_on_time`), 整改完成率 (`ledger_completion`)
  and the post-service ratings' 满意率 (`service_rating`);
* g = score / 100 for the appraisal (`appraisal`: the closed rounds of the quarter, their
  `RoundResult.score` averaged per unit when there are several);
* g = 1 − rate for the penalties 回退率 (`returned`) and 重办率 (`reopened`).

score = 100 × Σ wₖ·gₖ / Σ wₖ over the components that are defined for the unit and whose weight is
positive: an undefined one (no ratings, no round, nothing owed) leaves both sums, so it neither
helps nor hurts. A rate above 1 counts as 1. The weights (`BulletinWeights`, from the
``[bulletin]`` settings) need not add up to 1.

Ranking: units with a score are ranked by score (descending), then code; equal scores share a
rank (1, 2, 2, 4). The 末位 are the units ranked in the last `bottom_count` places, and every unit
tied with one of them (equal scores, equal treatment), but never a unit ranked first: with no
more ranked units than `bottom_count`, or all of them tied, nobody is 末位. Units without a score
follow, unranked, by code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace

COMPONENTS: tuple[str, ...] = (
    "signed_on_time",
    "answered_on_time",
    "satisfaction",
    "returned",
    "reopened",
    "submissions_on_time",
    "ledger_completion",
    "appraisal",
    "service_rating",
)
"""The components in the order the bulletin shows them; all but `appraisal` are rates in [0, 1],
`appraisal` is a score on 100."""
PENALTIES = frozenset({"returned", "reopened"})
SCORE_DIGITS = 6
"""Scores are compared after rounding, so float noise never splits a tie."""


@dataclass(frozen=True)
class BulletinWeights:
    """Weights of the components in the quarterly score; none may be negative."""

    signed_on_time: float = 0.1
    answered_on_time: float = 0.15
    satisfaction: float = 0.15
    returned: float = 0.05
    reopened: float = 0.05
    submissions_on_time: float = 0.1
    ledger_completion: float = 0.1
    appraisal: float = 0.2
    service_rating: float = 0.1

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if any(value < 0 for value in values):
            raise ValueError("bulletin weights must not be negative")
        if sum(values) <= 0:
            raise ValueError("at least one bulletin weight must be positive")

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in COMPONENTS}


def goodness(name: str, value: float) -> float:
    """A component's value as g in [0, 1] (see the module notes)."""
    if name == "appraisal":
        return min(max(value / 100.0, 0.0), 1.0)
    value = min(max(value, 0.0), 1.0)
    return 1.0 - value if name in PENALTIES else value


def quarter_score(components: Mapping[str, float | None], weights: BulletinWeights) -> float | None:
    """The 0–100 score of the module notes; None when no weighted component is defined."""
    total = weighted = 0.0
    for name in COMPONENTS:
        value = components.get(name)
        weight = float(getattr(weights, name))
        if value is None or weight <= 0:
            continue
        weighted += weight * goodness(name, value)
        total += weight
    return round(100.0 * weighted / total, SCORE_DIGITS) if total else None


@dataclass(frozen=True)
class UnitLine:
    """One unit's line of the bulletin."""

    department_id: int
    code: str
    name: str
    kind: str
    components: dict[str, float | None]
    counts: dict[str, int] = field(default_factory=dict)
    """What the rates were counted from (reports received, ratings …): numbers only."""
    score: float | None = None
    rank: int | None = None
    bottom: bool = False
    """末位."""
    months: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per month of the quarter (`2026-10`): the report counts the public page shows."""


def rank_lines(lines: Iterable[UnitLine], bottom_count: int) -> list[UnitLine]:
    """The lines ranked and marked as the module notes say: ranked first, in rank order."""
    ranked = sorted(
        (u for u in lines if u.score is not None), key=lambda u: (-(u.score or 0), u.code)
    )
    unranked = sorted((u for u in lines if u.score is None), key=lambda u: u.code)
    out: list[UnitLine] = []
    rank = 0
    previous: float | None = None
    for position, line in enumerate(ranked, start=1):
        if line.score != previous:
            rank, previous = position, line.score
        out.append(replace(line, rank=rank, bottom=False))
    if bottom_count > 0 and len(out) > bottom_count:
        threshold = out[len(out) - bottom_count].score
        out = [
            replace(u, bottom=u.rank != 1 and u.score is not None and u.score <= (threshold or 0))
            for u in out
        ]
    return out + [replace(u, rank=None, bottom=False) for u in unranked]
