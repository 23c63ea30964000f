"""Per-department handling figures (情况通报) computed by SQL aggregation.

The monthly digest, its ranking and the 红黑榜 read these figures, and the digest must run over a
million reports, so nothing here loads reports into Python: `department_metrics` is one
statement, whatever the number of reports. It walks the departments and counts each figure with
a correlated ``(SELECT count(*) …)`` that is one seek into a covering index led by the department
(revision 0014) and a walk over exactly the rows it counts. A GROUP BY over the month instead
(the shape before) had to sort every row of the month by department, and on SQLite that sort,
not the reading, was most of the digest's time. Only portable SQL is used, so SQLite and
PostgreSQL give the same answer, and the cost follows the month, not the whole table.

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
  working day after the local date of `assigned_at` (`db.cases.rules._assign`), so it depends
  only on that local date. The caller passes the work calendar and time zone; the module
  computes one due time per local day of the period in Python (`sign_due_pieces`) and the query
  counts, for each stretch of days sharing a due, the reports assigned in it and signed by that
  due: a comparison per row instead of mapping every `assigned_at` through a ``CASE``. Signed
  late, or not signed by a due that has passed, is not on time.
* **sign_decided** — of the received, those whose timeliness is known at `now`: signed, or
  with their sign due passed. A report assigned yesterday and not yet signed is neither on time
  nor late, so it is not in the rate's denominator (counting it as late showed a unit a 0%
  rate for reports it still had days to sign). Rate: signed_on_time / sign_decided.
* **answered** — `replied` events in the period (a reply after a 重办 counts again).
* **answered_on_time** (按时办结) — of those, replies made no later than the reply due in force
  at the moment of the reply, which the `replied` event stores (`ReportEvent.due_at`, written by
  `db.cases.handling` from the case before the reply, so extensions and 重办 are accounted for). A
  reply recorded before revision 0005 carries no due and counts as not on time. Rate:
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

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import WorkCalendar, add_working_days, local_date
from db.cases.rules import TERMINAL_STATES, DueKind, Limits
from db.models import Department, EventKind, Report, ReportEvent, UTCDateTime
from db.queries import Rows, select_rows

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
    sign_decided: int = 0
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
        return _rate(self.signed_on_time, self.sign_decided)

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


_COUNT_NAMES = tuple(f.name for f in fields(DepartmentMetrics) if f.name != "department_id")


def total(rows: Iterable[DepartmentMetrics]) -> DepartmentMetrics:
    """The city-wide counts of `rows` (their ids dropped): `sum` with `+` in one pass, without
    a new object per row, which showed up in the digest's time with hundreds of departments."""
    sums = dict.fromkeys(_COUNT_NAMES, 0)
    for row in rows:
        for name in _COUNT_NAMES:
            sums[name] += getattr(row, name)
    return DepartmentMetrics(department_id=None, **sums)


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


def _sign_dues(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo, sign_days: int
) -> list[tuple[datetime, datetime]]:
    """Each local day of the period as (its next local midnight, the sign due of a report
    assigned that day)."""
    dues: list[tuple[datetime, datetime]] = []
    for day in _local_days(start, end, tz):
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        due = add_working_days(datetime.combine(day, time(12), tzinfo=tz), sign_days, calendar, tz)
        dues.append((next_midnight, due))
    return dues


def sign_due_pieces(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo, sign_days: int
) -> list[tuple[datetime, datetime, datetime]]:
    """[low, high) stretches that cover [start, end) exactly, with the sign due of a report
    assigned in each; consecutive days with the same due (a Friday and the weekend after it)
    share a stretch, so a month is about 22 of them."""
    pieces: list[tuple[datetime, datetime, datetime]] = []
    low = start
    for next_midnight, due in _sign_dues(start, end, calendar, tz, sign_days):
        high = min(next_midnight, end)
        if pieces and pieces[-1][2] == due:
            pieces[-1] = (pieces[-1][0], high, due)
        else:
            pieces.append((low, high, due))
        low = high
    return pieces


def sign_due_expr(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo, sign_days: int
) -> ColumnElement[datetime]:
    """`assigned_at` mapped to its sign due; NULL outside [start, end), so never "on time".

    The local days of the period become a balanced tree of CASE expressions on the next local
    midnight: about five comparisons per row for a month instead of up to thirty-one for a flat
    CASE. The workbook lists reports one by one and needs the due of each; the counts of
    `department_metrics` use `sign_due_pieces` instead.
    """
    assigned = col(Report.assigned_at)
    branches = _sign_dues(start, end, calendar, tz, sign_days)

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


def _open_condition(report: type[Report] = Report) -> ColumnElement[bool]:
    return and_(
        col(report.state).not_in(list(TERMINAL_STATES)),
        col(report.due_kind).in_(_DEPARTMENT_DUE_KINDS),
    )


def _overdue_condition(
    now: datetime | ColumnElement[datetime], report: type[Report] = Report
) -> ColumnElement[bool]:
    return and_(_open_condition(report), col(report.due_at) < now)


def _event_counts() -> list[tuple[EventKind, tuple[ColumnElement[bool], ...]]]:
    """The event counts of both statements, in `_COUNTED` order after the report counts: the
    kind and any further condition on the event."""
    replied_on_time = and_(
        col(ReportEvent.due_at).is_not(None),
        col(ReportEvent.created_at) <= col(ReportEvent.due_at),
    )
    return [
        (EventKind.replied, ()),
        (EventKind.replied, (replied_on_time,)),
        *((EventKind(kind), ()) for kind in _COUNTED[_COUNTED.index("answered_on_time") + 1 :]),
    ]


@cache
def _metrics_statement(stretches: int) -> Rows:
    """One row per department: its id, `active`, then the counts in `_COUNTED` order.

    Every count is a correlated scalar subquery on `Department.id`, so each is a seek into a
    department-led covering index (revision 0014) and no row of the month is ever sorted.
    The moments are bound parameters (`_metrics_parameters`), so the statement, about a
    hundred SQL elements that take milliseconds of Python to build, is built once for each
    number of sign due stretches (a month has 20 to 31) and reused.
    """
    department = col(Department.id)
    start = bindparam("start", type_=UTCDateTime())
    end = bindparam("end", type_=UTCDateTime())

    def reports(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        return (
            select(func.count())
            .select_from(Report)
            .where(col(Report.handling_department_id) == department, *conditions)
            .scalar_subquery()
        )

    def events(kind: EventKind, *conditions: ColumnElement[bool]) -> ColumnElement[int]:
        return (
            select(func.count())
            .select_from(ReportEvent)
            .where(
                col(ReportEvent.department_id) == department,
                col(ReportEvent.kind) == kind,
                col(ReportEvent.created_at) >= start,
                col(ReportEvent.created_at) < end,
                *conditions,
            )
            .scalar_subquery()
        )

    assigned = col(Report.assigned_at)
    in_period = (assigned >= start, assigned < end)
    # signed_on_time: per stretch of days with one sign due, the stretch's reports signed by it;
    # the inner count is correlated to both the stretch and the department, so the database
    # seeks once per department and stretch and compares `signed_at` with a constant.
    pieces = union_all(
        *(
            select(
                bindparam(f"low{i}", type_=UTCDateTime()).label("low"),
                bindparam(f"high{i}", type_=UTCDateTime()).label("high"),
                bindparam(f"due{i}", type_=UTCDateTime()).label("due"),
            )
            for i in range(stretches)
        )
    ).subquery("sign_due")
    now = bindparam("now", type_=UTCDateTime())

    def per_stretch(condition: ColumnElement[bool]) -> ColumnElement[int]:
        count = (
            select(func.count())
            .select_from(Report)
            .where(
                col(Report.handling_department_id) == department,
                assigned >= pieces.c.low,
                assigned < pieces.c.high,
                condition,
            )
            .correlate(Department, pieces)
            .scalar_subquery()
        )
        return select(func.coalesce(func.sum(count), 0)).select_from(pieces).scalar_subquery()

    signed_on_time = per_stretch(col(Report.signed_at) <= pieces.c.due)
    sign_decided = per_stretch(or_(col(Report.signed_at).is_not(None), pieces.c.due < now))
    is_open = _open_condition()
    return select_rows(
        department,
        col(Department.active),
        reports(*in_period),
        reports(*in_period, col(Report.signed_at).is_not(None)),
        signed_on_time,
        sign_decided,
        reports(is_open),
        reports(is_open, col(Report.due_at) < now),
        *(events(kind, *conditions) for kind, conditions in _event_counts()),
    ).order_by(department)


def _metrics_parameters(
    start: datetime,
    end: datetime,
    now: datetime,
    pieces: list[tuple[datetime, datetime, datetime]],
) -> dict[str, datetime]:
    parameters = {"start": start, "end": end, "now": now}
    for i, (low, high, due) in enumerate(pieces):
        parameters.update({f"low{i}": low, f"high{i}": high, f"due{i}": due})
    return parameters


def _grouped_metrics_statement(
    start: datetime, end: datetime, now: datetime, sign_due: ColumnElement[datetime]
) -> Rows:
    """The rows of `_metrics_statement` for PostgreSQL, from three GROUP BYs over month-first
    ranges (revision 0009's indexes) joined to the departments.

    PostgreSQL runs every correlated subquery as a separate index scan with a start-up cost of
    microseconds, so the per-department shape cost it about three times this one (200,000
    reports); it aggregates in hash tables, where SQLite sorts, so the GROUP BYs that were slow
    on SQLite are its fast shape. Same definitions; a test runs both shapes on both databases.
    """
    dept = col(Report.handling_department_id)
    assigned = col(Report.assigned_at)
    received = (
        select(
            dept.label("department_id"),
            func.count().label("received"),
            func.count(col(Report.signed_at)).label("signed"),
            func.count(case((col(Report.signed_at) <= sign_due, 1))).label("signed_on_time"),
            func.count(case((or_(col(Report.signed_at).is_not(None), sign_due < now), 1))).label(
                "sign_decided"
            ),
        )
        .where(assigned >= start, assigned < end)
        .group_by(dept)
        .subquery("received")
    )
    backlog = (
        select(
            dept.label("department_id"),
            func.count().label("open_now"),
            func.count(case((col(Report.due_at) < now, 1))).label("overdue_now"),
        )
        .where(_open_condition())
        .group_by(dept)
        .subquery("backlog")
    )
    kind = col(ReportEvent.kind)
    event_counts = [
        func.count(case((and_(kind == k, *conditions), 1))) for k, conditions in _event_counts()
    ]
    events = (
        select(
            col(ReportEvent.department_id).label("department_id"),
            *(count.label(f"n{i}") for i, count in enumerate(event_counts)),
        )
        .where(
            kind.in_(list(_EVENT_FIGURES)),
            col(ReportEvent.created_at) >= start,
            col(ReportEvent.created_at) < end,
        )
        .group_by(col(ReportEvent.department_id))
        .subquery("events")
    )
    department = col(Department.id)
    counts = [
        received.c.received,
        received.c.signed,
        received.c.signed_on_time,
        received.c.sign_decided,
        backlog.c.open_now,
        backlog.c.overdue_now,
        *(events.c[f"n{i}"] for i in range(len(event_counts))),
    ]
    return (
        select_rows(department, col(Department.active), *(func.coalesce(c, 0) for c in counts))
        .outerjoin(received, received.c.department_id == department)
        .outerjoin(backlog, backlog.c.department_id == department)
        .outerjoin(events, events.c.department_id == department)
        .order_by(department)
    )


_COUNTED = (
    "received",
    "signed",
    "signed_on_time",
    "sign_decided",
    "open_now",
    "overdue_now",
    EventKind.replied,
    "answered_on_time",
    EventKind.returned,
    EventKind.reopened,
    EventKind.rated,
    EventKind.escalated,
)
"""The counts of `_metrics_statement`: figures by name, event kinds to fold by `_EVENT_FIGURES`."""


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
    module notes. One SQL statement, independent of the number of reports: per-department seeks
    on SQLite (`_metrics_statement`), hash aggregates on PostgreSQL (`_grouped_metrics_statement`).
    """
    _require_aware(start=start, end=end, now=now)
    if end <= start:
        raise ValueError("the period must not be empty: end must be after start")
    sign_days = (limits or Limits()).sign_days
    if session.get_bind().dialect.name == "postgresql":
        sign_due = sign_due_expr(start, end, calendar, tz, sign_days)
        rows = await session.exec(_grouped_metrics_statement(start, end, now, sign_due))
    else:
        pieces = sign_due_pieces(start, end, calendar, tz, sign_days)
        rows = await session.exec(
            _metrics_statement(len(pieces)), params=_metrics_parameters(start, end, now, pieces)
        )
    metrics: list[DepartmentMetrics] = []
    for department_id, active, *numbers in rows.all():
        if not active and not any(numbers):
            continue  # an inactive department with nothing to show
        values: dict[str, int] = {}
        for name, number in zip(_COUNTED, numbers, strict=True):
            if isinstance(name, EventKind):
                for figure in _EVENT_FIGURES[name]:
                    values[figure] = values.get(figure, 0) + int(number)
            else:
                values[name] = int(number)
        metrics.append(DepartmentMetrics(department_id=department_id, **values))
    return metrics


async def overdue_numbers(
    session: AsyncSession, department_id: int, now: datetime, limit: int = 50
) -> list[str]:
    """Public numbers of the department's overdue reports (as counted in `overdue_now`),
    most overdue first, at most `limit` so a digest message stays readable."""
    _require_aware(now=now)
    result = await session.exec(
        sqlmodel_select(col(Report.number))
        .where(col(Report.handling_department_id) == department_id, _overdue_condition(now))
        .order_by(col(Report.due_at), col(Report.number))
        .limit(limit)
    )
    return list(result.all())


@cache
def _overdue_statement(lateral: bool) -> Rows:
    """Built once per dialect (the elements cost about as much Python as the query on SQLite);
    ``now`` and ``limit`` are bound parameters."""
    overdue = aliased(Report)
    department = col(Department.id)
    first = (
        select(col(overdue.id), col(overdue.number), col(overdue.due_at))
        .where(
            col(overdue.handling_department_id) == department,
            _overdue_condition(bindparam("now", type_=UTCDateTime()), overdue),
        )
        .order_by(col(overdue.due_at), col(overdue.number))
        .limit(bindparam("limit", type_=Integer()))
    )
    if lateral:
        top = first.lateral("top")
        return (
            select_rows(department, top.c.number)
            .join(top, true())
            .order_by(department, top.c.due_at, top.c.number)
        )
    ids = first.with_only_columns(col(overdue.id)).correlate(Department)
    return (
        select_rows(department, col(Report.number))
        .join(Report, col(Report.id).in_(ids))
        .order_by(department, col(Report.due_at), col(Report.number))
    )


async def overdue_numbers_by_department(
    session: AsyncSession, now: datetime, limit: int = 50
) -> dict[int, list[str]]:
    """`overdue_numbers` of every department in one statement.

    The digest needs the list of each of hundreds of departments; one query per department would
    make the digest's statement count grow with the departments. Each department's first `limit`
    come from one seek into its part of a department-led index (revision 0014) and a sort of its
    own few overdue reports, instead of a sort of every overdue report of the city. PostgreSQL
    gets them through LATERAL; SQLite has no LATERAL but runs ``id IN (correlated subquery
    … LIMIT n)`` once per department, where PostgreSQL would re-evaluate it for every report.
    """
    _require_aware(now=now)
    statement = _overdue_statement(session.get_bind().dialect.name == "postgresql")
    result = await session.exec(statement, params={"now": now, "limit": limit})
    numbers: dict[int, list[str]] = {}
    for department_id, number in result.all():
        numbers.setdefault(department_id, []).append(number)
    return numbers
