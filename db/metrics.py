"""Per-department handling figures (情况通报) computed by SQL aggregation.

The monthly digest, its ranking and the 红黑榜 read these figures, and the digest must run over a
million reports, so nothing here loads reports into Python: `department_metrics` issues exactly
three statements (departments, one GROUP BY over `report`, one GROUP BY over `report_event`
joined to `report`), whatever the number of reports. Conditional sums (``SUM(CASE …)``) keep each
figure in one pass, and only portable SQL is used, so SQLite and PostgreSQL give the same answer.

The period is the half-open UTC interval ``[start, end)``; the caller turns a month of the
campaign time zone into it. `now` is the moment "overdue now" is judged at.

Definitions (the contract the digest and its ranking rely on):

* **Attribution.** A report belongs to its *current* handling department
  (`Report.handling_department_id`). Events do not store a department, so an event (a return, a
  reopening, a reply, a rating) counts for the report's handling department at the time of the
  query. After a return and reassignment to another department, the earlier return therefore
  counts for the new department: storing the department on the event would be needed to do
  better.
* **received** — reports whose current assignment (`assigned_at`) falls in the period. A report
  reassigned in a later period is received again there (its `assigned_at` moved).
* **signed** — of those, reports with a `signed_at`.
* **signed_on_time** (及时签收) — of those, reports signed no later than their sign due. Since
  revision 0005 the `signed` event stores the sign due (`ReportEvent.due_at`), but events
  recorded before it do not, so the figure is still computed from the report alone, which is
  right for old and new reports alike: the sign due is the end of the `limits.sign_days`-th
  working day after the local date of `assigned_at` (`db.case_rules._assign`), so it depends
  only on that local date. The caller passes the work calendar and time zone; the module
  computes one due time per local day of the period in Python and the query maps `assigned_at`
  to it with a ``CASE`` of one branch per day (about 31 for a month). Not yet signed, or signed
  late, is not on time. Rate: signed_on_time / received.
* **answered** — `replied` events in the period (a reply after a 重办 counts again).
* **answered_on_time** (按时办结) — of those, replies made no later than the reply due in force
  at the moment of the reply, which the `replied` event stores (`ReportEvent.due_at`, written by
  `db.cases` from the case before the reply, so extensions and 重办 are accounted for). A reply
  recorded before revision 0005 carries no due and counts as not on time. Rate:
  answered_on_time / answered.
* **returned** (回退) — `returned` events in the period. Rate: returned / received.
* **reopened** (重办) — `reopened` events in the period. Rate: reopened / answered.
* **satisfaction** (满意率) — every rating given in the period is one event: `rated` (满意 or
  基本满意, which closes the case), `reopened` or `escalated` (不满意). satisfied = `rated` events,
  ratings = `rated` + `reopened` + `escalated` events. Rate: satisfied / ratings.
* **overdue_now** — reports of the department, not in a terminal state, whose due time is for the
  department (`due_kind` ``sign`` or ``reply``; this includes a report waiting for the
  reporter's answer to a question, since the reply clock does not stop) and `due_at < now`. A
  rating due (the reporter's) or a reassign due (the office's) is not the department's delay.
  `overdue_numbers` lists them.

Every rate is None when its denominator is 0, so "no reports" is never shown as 0% or 100%.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from db.case_rules import TERMINAL_STATES, DueKind, Limits
from db.models import Department, EventKind, Report, ReportEvent, UTCDateTime
from db.workdays import WorkCalendar, add_working_days, local_date

_DEPARTMENT_DUE_KINDS = (DueKind.sign.value, DueKind.reply.value)
"""Due times the handling department owes; see "overdue_now" in the module notes."""


@dataclass(frozen=True)
class DepartmentMetrics:
    """The counts of one department (or of all, `department_id` None) for one period."""

    department_id: int | None
    received: int = 0
    signed: int = 0
    signed_on_time: int = 0
    answered: int = 0
    answered_on_time: int = 0
    returned: int = 0
    reopened: int = 0
    satisfied: int = 0
    ratings: int = 0
    overdue_now: int = 0

    @property
    def signed_on_time_rate(self) -> float | None:
        return _rate(self.signed_on_time, self.received)

    @property
    def answered_on_time_rate(self) -> float | None:
        return _rate(self.answered_on_time, self.answered)

    @property
    def returned_rate(self) -> float | None:
        return _rate(self.returned, self.received)

    @property
    def reopened_rate(self) -> float | None:
        return _rate(self.reopened, self.answered)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.ratings)

    def __add__(self, other: DepartmentMetrics) -> DepartmentMetrics:
        """Counts add up (rates are recomputed from them, never averaged); the id is dropped."""
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "department_id"
        }
        return DepartmentMetrics(department_id=None, **counts)


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _require_aware(**moments: datetime) -> None:
    for name, moment in moments.items():
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime")


def _local_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[date]:
    """The local days that [start, end) touches, in order."""
    first = local_date(start, tz)
    last = local_date(end - timedelta(microseconds=1), tz)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _sign_due_expr(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo, sign_days: int
) -> ColumnElement[datetime]:
    """`assigned_at` mapped to its sign due: one CASE branch per local day of the period.

    The branches test the next local midnight in ascending order, so the first match is the
    assignment's local day; outside the period the value is NULL and never "on time".
    """
    whens = []
    for day in _local_days(start, end, tz):
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        due = add_working_days(datetime.combine(day, time(12), tzinfo=tz), sign_days, calendar, tz)
        whens.append(
            (
                col(Report.assigned_at) < literal(next_midnight, UTCDateTime()),
                literal(due, UTCDateTime()),
            )
        )
    return case(*whens, else_=None)


def _overdue_condition(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(Report.state).not_in(list(TERMINAL_STATES)),
        col(Report.due_kind).in_(_DEPARTMENT_DUE_KINDS),
        col(Report.due_at) < now,
    )


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """A portable conditional count: SUM(CASE WHEN … THEN 1 ELSE 0 END), 0 for no rows."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


async def department_metrics(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    limits: Limits | None = None,
) -> list[DepartmentMetrics]:
    """The figures of every active department, and of any other with activity, by id.

    `calendar`, `tz` and `limits` (only `sign_days` is used) recover the sign due time; see the
    module notes. Three SQL statements, independent of the number of reports.
    """
    _require_aware(start=start, end=end, now=now)
    if end <= start:
        raise ValueError("the period must not be empty: end must be after start")
    sign_days = (limits or Limits()).sign_days
    in_period = and_(col(Report.assigned_at) >= start, col(Report.assigned_at) < end)
    sign_due = _sign_due_expr(start, end, calendar, tz, sign_days)
    overdue = _overdue_condition(now)
    dept = col(Report.handling_department_id)

    report_rows = await session.exec(
        select(
            dept,
            _count(in_period),
            _count(and_(in_period, col(Report.signed_at).is_not(None))),
            _count(and_(in_period, col(Report.signed_at) <= sign_due)),
            _count(overdue),
        )
        .where(dept.is_not(None), or_(in_period, overdue))
        .group_by(dept)
    )
    counts: dict[int, dict[str, int]] = {}
    for department_id, received, signed, on_time, overdue_now in report_rows.all():
        counts.setdefault(department_id, {}).update(
            received=int(received),
            signed=int(signed),
            signed_on_time=int(on_time),
            overdue_now=int(overdue_now),
        )

    kind = col(ReportEvent.kind)
    event_rows = await session.exec(
        select(
            dept,
            _count(kind == EventKind.replied),
            _count(
                and_(
                    kind == EventKind.replied,
                    col(ReportEvent.due_at).is_not(None),
                    col(ReportEvent.created_at) <= col(ReportEvent.due_at),
                )
            ),
            _count(kind == EventKind.returned),
            _count(kind == EventKind.reopened),
            _count(kind == EventKind.rated),
            _count(kind.in_([EventKind.rated, EventKind.reopened, EventKind.escalated])),
        )
        .join(Report, col(Report.id) == col(ReportEvent.report_id))
        .where(
            dept.is_not(None),
            col(ReportEvent.created_at) >= start,
            col(ReportEvent.created_at) < end,
            kind.in_(
                [
                    EventKind.replied,
                    EventKind.returned,
                    EventKind.reopened,
                    EventKind.rated,
                    EventKind.escalated,
                ]
            ),
        )
        .group_by(dept)
    )
    for row in event_rows.all():
        department_id, answered, on_time, returned, reopened, satisfied, ratings = row
        counts.setdefault(department_id, {}).update(
            answered=int(answered),
            answered_on_time=int(on_time),
            returned=int(returned),
            reopened=int(reopened),
            satisfied=int(satisfied),
            ratings=int(ratings),
        )

    active = await session.exec(select(col(Department.id)).where(col(Department.active)))
    for department_id in active.scalars().all():
        counts.setdefault(department_id, {})
    return [
        DepartmentMetrics(department_id=department_id, **values)
        for department_id, values in sorted(counts.items())
    ]


async def overall_metrics(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    limits: Limits | None = None,
) -> DepartmentMetrics:
    """City-wide totals: the sum of `department_metrics` (a few hundred rows, not reports).

    Every counted report and event has a handling department, so the sum misses nothing.
    """
    rows = await department_metrics(
        session, start, end, now, calendar=calendar, tz=tz, limits=limits
    )
    return sum(rows, DepartmentMetrics(department_id=None))


async def overdue_numbers(
    session: AsyncSession, department_id: int, now: datetime, limit: int = 50
) -> list[str]:
    """Public numbers of the department's overdue reports (as counted in `overdue_now`),
    most overdue first, at most `limit` so a digest message stays readable."""
    _require_aware(now=now)
    result = await session.exec(
        select(col(Report.number))
        .where(col(Report.handling_department_id) == department_id, _overdue_condition(now))
        .order_by(col(Report.due_at), col(Report.number))
        .limit(limit)
    )
    return list(result.scalars().all())
