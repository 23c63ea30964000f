"""The duties' figures of the monthly digest, by SQL aggregation: how punctually each unit filed
what it owed, and how much of its rectification ledger it has completed.

Two statements whatever the number of submissions and items (one GROUP BY each), portable
between SQLite and PostgreSQL like `db.cases.metrics`. The period is the half-open UTC interval
``[start, end)`` of the digest's month; `now` is when the digest is judged, and the month is cut
at ``cutoff = min(end, now)`` so a digest of the month still running counts only what has
fallen due so far (a past month, the normal case, is cut at its end).

Definitions (the contract of the digest, its ranking and the tests):

* **submissions_due** — submissions of active duties whose period due time (`Submission.due_at`,
  not a return's `resubmit_due_at`) lies in ``[start, cutoff)``: what the unit owed in the
  month, whether filed or not.
* **submissions_on_time** — of those, the ones first filed no later than that due time
  (`first_submitted_at <= due_at`, as `db.duties.rules.filed_on_time` judges). One still missing,
  or first filed late, is not on time; a return and a later round do not change the verdict.
  Rate 按时报送率: submissions_on_time / submissions_due.
* **items_due** — rectification items of the unit recorded before ``cutoff`` whose due time is
  before ``cutoff``: every item that should be fixed by the end of the month, including those
  due in earlier months (the ledger is cumulative).
* **items_completed** — of those, the items that are done or confirmed and were marked done
  before ``cutoff``, as the ledger stands when the digest is judged: an item reopened since and
  still open, or completed only after the month, is not complete.
  Rate 整改完成率: items_completed / items_due.

Every rate is None when its denominator is 0 (a unit that owed nothing), so it neither helps
nor hurts the unit's score.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import LedgerState, Obligation, RectificationItem, Submission


@dataclass(frozen=True)
class DutyMetrics:
    """The duty counts of one unit (or of all, `department_id` None) for one month."""

    department_id: int | None = None
    submissions_due: int = 0
    submissions_on_time: int = 0
    items_due: int = 0
    items_completed: int = 0

    @property
    def submission_on_time_rate(self) -> float | None:
        return self.submissions_on_time / self.submissions_due if self.submissions_due else None

    @property
    def ledger_completion_rate(self) -> float | None:
        return self.items_completed / self.items_due if self.items_due else None

    def __add__(self, other: DutyMetrics) -> DutyMetrics:
        """Counts add up (rates are recomputed, never averaged); the id is dropped."""
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "department_id"
        }
        return DutyMetrics(department_id=None, **counts)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def duty_metrics(
    session: AsyncSession, start: datetime, end: datetime, now: datetime
) -> dict[int, DutyMetrics]:
    """The figures of every unit that owed a submission or a ledger item, by id (see the module
    notes); units that owed nothing are absent."""
    if end <= start:
        raise ValueError("the period must not be empty: end must be after start")
    cutoff = min(end, now)
    counts: dict[int, dict[str, int]] = {}

    unit = col(Submission.department_id)
    on_time = and_(
        col(Submission.first_submitted_at).is_not(None),
        col(Submission.first_submitted_at) <= col(Submission.due_at),
    )
    submissions = await session.exec(
        select(unit, func.count(), _count(on_time))
        .join(Obligation, col(Obligation.id) == col(Submission.obligation_id))
        .where(
            col(Obligation.active),
            col(Submission.due_at) >= start,
            col(Submission.due_at) < cutoff,
        )
        .group_by(unit)
    )
    for department_id, due, filed in submissions.all():
        counts.setdefault(department_id, {}).update(
            submissions_due=int(due), submissions_on_time=int(filed)
        )

    item_unit = col(RectificationItem.department_id)
    completed = and_(
        col(RectificationItem.state).in_([LedgerState.done, LedgerState.confirmed]),
        col(RectificationItem.done_at) < cutoff,
    )
    items = await session.exec(
        select(item_unit, func.count(), _count(completed))
        .where(
            col(RectificationItem.due_at) < cutoff,
            col(RectificationItem.created_at) < cutoff,
        )
        .group_by(item_unit)
    )
    for department_id, due, done in items.all():
        counts.setdefault(department_id, {}).update(items_due=int(due), items_completed=int(done))

    return {
        department_id: DutyMetrics(department_id=department_id, **values)
        for department_id, values in counts.items()
    }
