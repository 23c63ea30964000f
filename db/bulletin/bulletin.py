"""A quarter's bulletin from the database: every unit's components over the quarter, scored and
ranked (`db.bulletin.scoring`), frozen into `QuarterBulletin` when it is sent or published so the
figures sent, previewed afterwards and shown on the public page are the same ones.

The report figures are `db.cases.metrics` over each of the quarter's three months (one statement
each; the quarter's counts are their sums, and each month's are kept for the public page), the
duties `db.duties.metrics` (two), the appraisal the closed rounds of the quarter (one) and the
post-service ratings `db.ratings.figures` over the quarter's local days (one): a handful of
statements whatever the number of reports. "Overdue now" is not a component: it describes the
moment of reading, not the quarter.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.bulletin.quarters import Quarter, parse_quarter
from db.bulletin.scoring import BulletinWeights, UnitLine, quarter_score, rank_lines
from db.calendar.months import month_bounds
from db.calendar.workdays import WorkCalendar
from db.cases.metrics import DepartmentMetrics, department_metrics
from db.cases.rules import Limits
from db.duties.metrics import DutyMetrics, duty_metrics
from db.models import AppraisalRound, Department, QuarterBulletin, RoundResult, RoundState
from db.queries import insert_or_skip, table_of
from db.ratings.figures import RatingFigures, rating_figures


@dataclass(frozen=True)
class Bulletin:
    quarter: str
    first_day: date
    last_day: date
    computed_at: datetime
    weights: dict[str, float]
    bottom_count: int
    units: tuple[UnitLine, ...]
    """Ranked units in rank order, then the unranked ones by code."""
    frozen: bool = False
    """Read from `QuarterBulletin` (as sent or published), not computed now."""

    @property
    def ranked(self) -> tuple[UnitLine, ...]:
        return tuple(u for u in self.units if u.rank is not None)

    @property
    def bottom(self) -> tuple[UnitLine, ...]:
        return tuple(u for u in self.units if u.bottom)

    def unit(self, department_id: int) -> UnitLine:
        for line in self.units:
            if line.department_id == department_id:
                return line
        raise KeyError(department_id)

    def unit_by_code(self, code: str) -> UnitLine | None:
        return next((u for u in self.units if u.code == code), None)

    def to_json(self) -> str:
        return json.dumps(
            {
                "quarter": self.quarter,
                "first_day": self.first_day.isoformat(),
                "last_day": self.last_day.isoformat(),
                "computed_at": self.computed_at.isoformat(),
                "weights": self.weights,
                "bottom_count": self.bottom_count,
                "units": [
                    {
                        "department_id": u.department_id,
                        "code": u.code,
                        "name": u.name,
                        "kind": u.kind,
                        "components": u.components,
                        "counts": u.counts,
                        "score": u.score,
                        "rank": u.rank,
                        "bottom": u.bottom,
                        "months": u.months,
                    }
                    for u in self.units
                ],
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> Bulletin:
        data: dict[str, Any] = json.loads(text)
        return cls(
            quarter=str(data["quarter"]),
            first_day=date.fromisoformat(data["first_day"]),
            last_day=date.fromisoformat(data["last_day"]),
            computed_at=datetime.fromisoformat(data["computed_at"]),
            weights={str(k): float(v) for k, v in data["weights"].items()},
            bottom_count=int(data["bottom_count"]),
            units=tuple(
                UnitLine(
                    department_id=int(u["department_id"]),
                    code=str(u["code"]),
                    name=str(u["name"]),
                    kind=str(u["kind"]),
                    components={str(k): v for k, v in u["components"].items()},
                    counts={str(k): int(v) for k, v in u["counts"].items()},
                    score=u["score"],
                    rank=u["rank"],
                    bottom=bool(u["bottom"]),
                    months={
                        str(month): {str(k): int(v) for k, v in counts.items()}
                        for month, counts in u.get("months", {}).items()
                    },
                )
                for u in data["units"]
            ),
            frozen=True,
        )


def components_of(
    metrics: DepartmentMetrics | None,
    duties: DutyMetrics | None,
    appraisal: float | None,
    ratings: RatingFigures | None,
) -> dict[str, float | None]:
    m = metrics or DepartmentMetrics(department_id=None)
    d = duties or DutyMetrics()
    return {
        "signed_on_time": m.signed_on_time_rate,
        "answered_on_time": m.answered_on_time_rate,
        "satisfaction": m.satisfaction_rate,
        "returned": m.returned_rate,
        "reopened": m.reopened_rate,
        "submissions_on_time": d.submission_on_time_rate,
        "ledger_completion": d.ledger_completion_rate,
        "appraisal": appraisal,
        "service_rating": ratings.satisfaction_rate if ratings is not None else None,
    }


async def appraisal_scores(session: AsyncSession, quarter: Quarter) -> dict[int, tuple[float, int]]:
    """Per unit: the mean `RoundResult.score` of the quarter's closed rounds that scored it, and
    the ballots counted in them."""
    rows = (
        await session.exec(
            select(RoundResult.department_id, RoundResult.score, RoundResult.ballots)
            .join(AppraisalRound, col(AppraisalRound.id) == col(RoundResult.round_id))
            .where(
                AppraisalRound.quarter == quarter.key,
                AppraisalRound.state == RoundState.closed,
                col(RoundResult.score).is_not(None),
            )
        )
    ).all()
    scores: dict[int, list[float]] = defaultdict(list)
    ballots: dict[int, int] = defaultdict(int)
    for department_id, value, counted in rows:
        if value is None:  # excluded by the query; the check is for the type checker
            continue
        scores[department_id].append(float(value))
        ballots[department_id] += int(counted)
    return {unit: (sum(v) / len(v), ballots[unit]) for unit, v in scores.items()}


async def compute_bulletin(
    session: AsyncSession,
    quarter: Quarter,
    now: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    limits: Limits,
    weights: BulletinWeights,
    bottom_count: int,
) -> Bulletin:
    """The bulletin of `quarter` as judged at `now` (see the module notes)."""
    start, end = quarter.bounds(tz)
    by_month: dict[str, dict[int, DepartmentMetrics]] = {}
    for month in quarter.months:
        month_start, month_end = month_bounds(month, tz)
        if month_start >= now:
            continue  # a preview of the quarter still running: nothing yet
        rows = await department_metrics(
            session, month_start, month_end, now, calendar=calendar, tz=tz, limits=limits
        )
        by_month[f"{month:%Y-%m}"] = {m.department_id: m for m in rows if m.department_id}
    metrics: dict[int, DepartmentMetrics] = {}
    for rows_of_month in by_month.values():
        for unit_id, row in rows_of_month.items():
            # Counts of disjoint periods add up (`DepartmentMetrics.__add__`); the id is kept.
            summed = metrics[unit_id] + row if unit_id in metrics else row
            metrics[unit_id] = replace(summed, department_id=unit_id)
    duties = await duty_metrics(session, start, end, now)
    appraisal = await appraisal_scores(session, quarter)
    ratings = await rating_figures(session, quarter.first_day, quarter.last_day)
    ids = set(metrics) | set(duties) | set(appraisal) | set(ratings)
    departments = (
        await session.exec(select(Department).where(col(Department.id).in_(sorted(ids))))
    ).all()
    lines = []
    for unit in departments:
        assert unit.id is not None
        m, d, r = metrics.get(unit.id), duties.get(unit.id), ratings.get(unit.id)
        a = appraisal.get(unit.id)
        components = components_of(m, d, a[0] if a else None, r)
        counts = {
            "received": m.received if m else 0,
            "answered": m.answered if m else 0,
            "ratings": m.ratings if m else 0,
            "submissions_due": d.submissions_due if d else 0,
            "items_due": d.items_due if d else 0,
            "ballots": a[1] if a else 0,
            "service_ratings": r.ratings if r else 0,
        }
        lines.append(
            UnitLine(
                department_id=unit.id,
                code=unit.code,
                name=unit.name,
                kind=unit.kind.value,
                components=components,
                counts=counts,
                score=quarter_score(components, weights),
                months={
                    month: _month_counts(rows_of_month.get(unit.id))
                    for month, rows_of_month in by_month.items()
                },
            )
        )
    return Bulletin(
        quarter=quarter.key,
        first_day=quarter.first_day,
        last_day=quarter.last_day,
        computed_at=now,
        weights=weights.as_dict(),
        bottom_count=bottom_count,
        units=tuple(rank_lines(lines, bottom_count)),
    )


def _month_counts(row: DepartmentMetrics | None) -> dict[str, int]:
    """What the public page shows of a unit's month: counts only, rates recomputed from them."""
    if row is None:
        return {}
    return {
        "received": row.received,
        "answered": row.answered,
        "answered_on_time": row.answered_on_time,
        "satisfied": row.satisfied,
        "ratings": row.ratings,
    }


async def stored_bulletin(session: AsyncSession, quarter: str) -> QuarterBulletin | None:
    return await session.get(QuarterBulletin, quarter)


def frozen_of(row: QuarterBulletin) -> Bulletin:
    return Bulletin.from_json(row.data)


async def freeze(session: AsyncSession, bulletin: Bulletin, now: datetime) -> QuarterBulletin:
    """Store `bulletin` as the quarter's frozen figures unless some are stored already (then
    those stand, and are returned). Callers commit.

    Two freezes at once (`/publish` during the sending job) both find no row: the INSERT does
    nothing on the quarter's key, so the second waits for the first and returns its row."""
    row = await stored_bulletin(session, bulletin.quarter)
    if row is not None:
        return row
    await session.exec(
        insert_or_skip(session.get_bind().dialect.name, table_of(QuarterBulletin)).values(
            quarter=bulletin.quarter, data=bulletin.to_json(), computed_at=now
        )
    )
    row = await stored_bulletin(session, bulletin.quarter)
    assert row is not None
    return row


async def published_bulletins(session: AsyncSession) -> list[QuarterBulletin]:
    """The published quarters, the latest first."""
    rows = await session.exec(
        select(QuarterBulletin)
        .where(col(QuarterBulletin.published_at).is_not(None))
        .order_by(col(QuarterBulletin.quarter).desc())
    )
    return list(rows.all())


async def published_bulletin(session: AsyncSession, quarter: str) -> Bulletin | None:
    """The published bulletin of `quarter` (any text), or None: malformed, unknown, unpublished."""
    try:
        key = parse_quarter(quarter).key
    except ValueError:
        return None
    row = await stored_bulletin(session, key)
    if row is None or row.published_at is None:
        return None
    return frozen_of(row)


async def all_bulletins(session: AsyncSession) -> list[QuarterBulletin]:
    """Every stored bulletin, the latest first (for `/publish` without a quarter)."""
    rows = await session.exec(select(QuarterBulletin).order_by(col(QuarterBulletin.quarter).desc()))
    return list(rows.all())


async def set_published(
    session: AsyncSession, row: QuarterBulletin, account_id: int | None, now: datetime | None
) -> None:
    """Publish (`now` given) or withdraw (`now` None) a frozen bulletin; callers commit, audit."""
    row.published_at = now
    row.published_by = account_id if now is not None else None
    session.add(row)
    await session.flush()
