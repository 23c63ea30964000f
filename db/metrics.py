"""Per-department handling figures (情况通报) computed by SQL aggregation.

The monthly digest, its ranking and the 红黑榜 read these figures, and the digest must run over a
million reports, so nothing here loads reports into Python: `department_metrics` issues exactly
three statements (departments, one GROUP BY over `report`, one GROUP BY over `report_event`),
whatever the number of reports. Conditional sums (``SUM(CASE …)``) keep each figure in one pass,
and only portable SQL is used, so SQLite and PostgreSQL give the same answer. Each statement
reads covering indexes of revision 0009 only (the month's assignments, the open backlog, the
month's events of the counted kinds), so its cost follows the month, not the whole table.

The period is the half-open UTC interval ``[start, end)``; the caller turns a month of the
campaign time zone into it. `now` is the moment "overdue now" is judged at.

Definitions (the contract the digest and its ranking rely on):

* **Attribution.** A report's own figures (received, signed, open, overdue) belong to its
  *current* handling department (`Report.handling_department_id`). An event (a reply, a return,
  a reopening, a rating) counts for the department stored on it (`ReportEvent.department_id`):
  the one handling the report when it happened, so a return still counts for the department
  that returned the report after it went to another. Events recorded before revision 0009 got
  the report's handling department at that migration.
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
* **open_now** — reports of the department, not in a terminal state, whose due time is for the
  department (`due_kind` ``sign`` or ``reply``; this includes a report waiting for the
  reporter's answer to a question, since the reply clock does not stop), whenever received. A
  rating due (the reporter's) or a reassign due (the office's) is not the department's work.
* **overdue_now** — of those, reports with `due_at < now`. Rate: overdue_now / open_now, the
  share of the department's current backlog that is late. `overdue_numbers` and
  `overdue_numbers_by_department` list them.

Every rate is None when its denominator is 0, so "no reports" is never shown as 0% or 100%.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, select, union_all
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from db.case_rules import TERMINAL_STATES, DueKind, Limits
from db.models import Department, EventKind, Report, ReportEvent, UTCDateTime
from db.workdays import WorkCalendar, add_working_days, local_date

_DEPARTMENT_DUE_KINDS = (DueKind.sign.value, DueKind.reply.value)
"""Due times the handling department owes; see "overdue_now" in the module notes."""

_EVENT_FIGURES: dict[EventKind, tuple[str, ...]] = {
    EventKind.replied: ("answered",),
    EventKind.returned: ("returned",),
    EventKind.reopened: ("reopened", "ratings"),
    EventKind.rated: ("satisfied", "ratings"),
    EventKind.escalated: ("ratings",),
}
"""The figures each counted event kind adds one to (see the definitions above)."""


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
    open_now: int = 0
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

    @property
    def overdue_rate(self) -> float | None:
        return _rate(self.overdue_now, self.open_now)

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


def sign_due_expr(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo, sign_days: int
) -> ColumnElement[datetime]:
    """`assigned_at` mapped to its sign due; NULL outside [start, end), so never "on time".

    The local days of the period become a balanced tree of CASE expressions on the next local
    midnight: about five comparisons per row for a month instead of up to thirty-one for a flat
    CASE, which matters when the digest maps a month of a million-report table.
    """
    assigned = col(Report.assigned_at)
    branches: list[tuple[datetime, datetime]] = []
    for day in _local_days(start, end, tz):
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        due = add_working_days(datetime.combine(day, time(12), tzinfo=tz), sign_days, calendar, tz)
        branches.append((next_midnight, due))

    def tree(low: int, high: int) -> ColumnElement[datetime]:
        if low == high:
            return literal(branches[low][1], UTCDateTime())
        middle = (low + high) // 2
        return case(
            (assigned < literal(branches[middle][0], UTCDateTime()), tree(low, middle)),
            else_=tree(middle + 1, high),
        )

    in_period = and_(
        assigned >= literal(start, UTCDateTime()), assigned < literal(end, UTCDateTime())
    )
    return case((in_period, tree(0, len(branches) - 1)), else_=None)


def _open_condition() -> ColumnElement[bool]:
    return and_(
        col(Report.state).not_in(list(TERMINAL_STATES)),
        col(Report.due_kind).in_(_DEPARTMENT_DUE_KINDS),
    )


def _overdue_condition(now: datetime) -> ColumnElement[bool]:
    return and_(_open_condition(), col(Report.due_at) < now)


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
    sign_due = sign_due_expr(start, end, calendar, tz, sign_days)
    is_open = _open_condition()
    dept = col(Report.handling_department_id)

    # Two index range scans glued with UNION ALL: an OR of the two conditions makes SQLite walk
    # the department index and look up every row of the table instead.
    received = select(
        dept.label("department_id"),
        literal(1).label("received"),
        case((col(Report.signed_at).is_not(None), 1), else_=0).label("signed"),
        case((col(Report.signed_at) <= sign_due, 1), else_=0).label("signed_on_time"),
        literal(0).label("open_now"),
        literal(0).label("overdue_now"),
    ).where(dept.is_not(None), in_period)
    backlog = select(
        dept,
        literal(0),
        literal(0),
        literal(0),
        literal(1),
        case((col(Report.due_at) < now, 1), else_=0),
    ).where(dept.is_not(None), is_open)
    both = union_all(received, backlog).subquery()
    report_rows = await session.exec(
        select(
            both.c.department_id,
            func.sum(both.c.received),
            func.sum(both.c.signed),
            func.sum(both.c.signed_on_time),
            func.sum(both.c.open_now),
            func.sum(both.c.overdue_now),
        ).group_by(both.c.department_id)
    )
    counts: dict[int, dict[str, int]] = {}
    for department_id, received_n, signed, on_time, open_now, overdue_now in report_rows.all():
        counts.setdefault(department_id, {}).update(
            received=int(received_n),
            signed=int(signed),
            signed_on_time=int(on_time),
            open_now=int(open_now),
            overdue_now=int(overdue_now),
        )

    # Grouped by department and kind (a few thousand rows) and folded here: one sorter key per
    # event and no per-figure CASE, the cheapest shape for a month of a large table.
    kind = col(ReportEvent.kind)
    event_dept = col(ReportEvent.department_id)
    on_time = and_(
        col(ReportEvent.due_at).is_not(None),
        col(ReportEvent.created_at) <= col(ReportEvent.due_at),
    )
    event_rows = await session.exec(
        select(event_dept, kind, func.count(), _count(on_time))
        .where(
            kind.in_(list(_EVENT_FIGURES)),
            col(ReportEvent.created_at) >= start,
            col(ReportEvent.created_at) < end,
            event_dept.is_not(None),
        )
        .group_by(event_dept, kind)
    )
    for department_id, event_kind, number, number_on_time in event_rows.all():
        values = counts.setdefault(department_id, {})
        for figure in _EVENT_FIGURES[EventKind(event_kind)]:
            values[figure] = values.get(figure, 0) + int(number)
        if event_kind == EventKind.replied:
            values["answered_on_time"] = int(number_on_time)

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


async def overdue_numbers_by_department(
    session: AsyncSession, now: datetime, limit: int = 50
) -> dict[int, list[str]]:
    """`overdue_numbers` of every department in one statement.

    The digest needs the list of each of hundreds of departments; one query per department would
    make the digest's statement count grow with the departments. A window function keeps the
    per-department `limit` in SQL (SQLite 3.25+ and PostgreSQL both have ROW_NUMBER).
    """
    _require_aware(now=now)
    dept = col(Report.handling_department_id)
    position = (
        func.row_number()
        .over(partition_by=dept, order_by=(col(Report.due_at), col(Report.number)))
        .label("position")
    )
    ranked = (
        select(dept.label("department_id"), col(Report.number).label("number"), position)
        .where(dept.is_not(None), _overdue_condition(now))
        .subquery()
    )
    result = await session.exec(
        select(ranked.c.department_id, ranked.c.number)
        .where(ranked.c.position <= limit)
        .order_by(ranked.c.department_id, ranked.c.position)
    )
    numbers: dict[int, list[str]] = {}
    for department_id, number in result.all():
        numbers.setdefault(department_id, []).append(number)
    return numbers
