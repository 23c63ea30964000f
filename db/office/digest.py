"""The monthly digest (情况通报): each department's figures, city totals, ranking and 红黑榜.

The figures are `db.cases.metrics` (SQL aggregates over the whole month, a fixed number of
statements however many reports there are); this module only adds the month's local boundaries, the
names, the overdue numbers and the ranking, so the digest costs a few statements and a few hundred
Python objects (one per department), never one per report.

Score (排名得分), 0–100, higher is better. Each of six rates of `DepartmentMetrics` and two of
`db.duties.metrics.DutyMetrics` becomes a "goodness" g in [0, 1]:

* g = rate for 及时签收率 (`signed_on_time_rate`), 按时办结率 (`answered_on_time_rate`), 满意率
  (`satisfaction_rate`), 按时报送率 (`submission_on_time_rate`) and 整改完成率
  (`ledger_completion_rate`);
* g = 1 − rate for the penalties 回退率 (`returned_rate`), 重办率 (`reopened_rate`) and 超期率
  (`overdue_rate`, the share of the department's open reports that is overdue now).

score = 100 × Σ wₖ·gₖ / Σ wₖ, summed over the rates that are defined (not None) and whose weight
is positive. A rate without a denominator (no ratings, say) neither helps nor hurts: it leaves
both sums; so does a duty rate of a unit that owed nothing in the month. A rate above 1 (a
reopening in the month of a reply given the month before) counts as 1. The weights
(`ScoreWeights`, from the ``[digest]`` settings) need not add up to 1.

Ranking: only departments that received at least one report in the month are ranked, and only
if some weighted rate is defined; the others are listed after them, unranked. Order is by score
(descending), then more reports received, then department code. Equal scores share a rank
(1, 2, 2, 4). The top five (红榜) are the first five ranked; the bottom five (黑榜) are the last
five, worst first, never repeating a department already in the top five (with fewer than ten
ranked departments the bottom list is shorter).

Post-service ratings (公述民评, `db.ratings.figures`) are shown beside the report satisfaction as
a separate source (`Digest.service_ratings`); they do not enter the score.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.months import MonthSpan, month_bounds
from db.calendar.workdays import WorkCalendar
from db.cases.metrics import (
    DepartmentMetrics,
    department_metrics,
    overdue_numbers_by_department,
    sign_due_expr,
    total,
)
from db.cases.rules import Limits
from db.duties.metrics import DutyMetrics, duty_metrics
from db.models import (
    AuditEvent,
    Category,
    Department,
    EventKind,
    IdentityMode,
    OutboxMessage,
    Report,
    ReportEvent,
    ReportState,
)
from db.queries import select_rows
from db.ratings.figures import RatingFigures, rating_figures

TOP_SIZE = 5
ONE_DAY = timedelta(days=1)
_SCORE_DIGITS = 6
"""Scores are compared after rounding, so float noise never splits a tie."""


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the eight rates in the score (see the module notes); none may be negative."""

    signed_on_time: float = 0.2
    answered_on_time: float = 0.3
    satisfaction: float = 0.3
    returned: float = 0.05
    reopened: float = 0.05
    overdue: float = 0.1
    submissions_on_time: float = 0.1
    ledger_completion: float = 0.1

    def __post_init__(self) -> None:
        values = [getattr(self, f.name) for f in fields(self)]
        if any(value < 0 for value in values):
            raise ValueError("digest weights must not be negative")
        if sum(values) <= 0:
            raise ValueError("at least one digest weight must be positive")


def score(
    metrics: DepartmentMetrics, weights: ScoreWeights, duties: DutyMetrics | None = None
) -> float | None:
    """The 0–100 score of the module notes; None when no weighted rate is defined."""
    duties = duties or DutyMetrics()
    parts = [
        (weights.signed_on_time, metrics.signed_on_time_rate, False),
        (weights.answered_on_time, metrics.answered_on_time_rate, False),
        (weights.satisfaction, metrics.satisfaction_rate, False),
        (weights.returned, metrics.returned_rate, True),
        (weights.reopened, metrics.reopened_rate, True),
        (weights.overdue, metrics.overdue_rate, True),
        (weights.submissions_on_time, duties.submission_on_time_rate, False),
        (weights.ledger_completion, duties.ledger_completion_rate, False),
    ]
    total = weighted = 0.0
    for weight, rate, penalty in parts:
        if rate is None or weight <= 0:
            continue
        rate = min(rate, 1.0)
        weighted += weight * ((1.0 - rate) if penalty else rate)
        total += weight
    return round(100.0 * weighted / total, _SCORE_DIGITS) if total else None


@dataclass(frozen=True)
class DepartmentFigures:
    """One department's line of the digest."""

    department_id: int
    code: str
    name: str
    metrics: DepartmentMetrics
    overdue_numbers: tuple[str, ...]
    """The most overdue first, at most the digest's `overdue_limit`; `metrics.overdue_now` is
    the full count."""
    score: float | None
    rank: int | None
    """None for a department that is not ranked (no report received in the month)."""
    duties: DutyMetrics = field(default_factory=DutyMetrics)
    """Its submissions and ledger items (`db.duties.metrics`); all zero when it owed nothing."""


@dataclass(frozen=True)
class Digest:
    month: date
    """The first day of the month, in the campaign time zone."""
    start: datetime
    end: datetime
    """[start, end) is the month in UTC."""
    now: datetime
    """When "overdue now" was judged."""
    departments: tuple[DepartmentFigures, ...]
    """Ranked departments in rank order, then the unranked ones by code."""
    totals: DepartmentMetrics
    weights: ScoreWeights
    duty_totals: DutyMetrics = field(default_factory=DutyMetrics)
    """City-wide duty counts: every unit that owed something, listed or not."""
    service_ratings: dict[int, RatingFigures] = field(default_factory=dict)
    """Post-service ratings made in the month, by unit id (units without any are absent): a
    separate source of satisfaction, shown beside the reports' and not part of the score."""

    @property
    def service_rating_totals(self) -> RatingFigures:
        """The city's post-service ratings of the month (department id 0)."""
        counts = self.service_ratings.values()
        return RatingFigures(
            0,
            sum(f.ratings for f in counts),
            sum(f.satisfied for f in counts),
            sum(f.basic for f in counts),
            sum(f.unsatisfied for f in counts),
        )

    @property
    def ranked(self) -> tuple[DepartmentFigures, ...]:
        return tuple(d for d in self.departments if d.rank is not None)

    @property
    def unranked(self) -> tuple[DepartmentFigures, ...]:
        return tuple(d for d in self.departments if d.rank is None)

    @property
    def top(self) -> tuple[DepartmentFigures, ...]:
        """红榜: the best five."""
        return self.ranked[:TOP_SIZE]

    @property
    def bottom(self) -> tuple[DepartmentFigures, ...]:
        """黑榜: the worst five, worst first, none of them in `top`."""
        ranked = self.ranked
        rest = ranked[len(self.top) :]
        return tuple(reversed(rest[-TOP_SIZE:]))

    def department(self, department_id: int) -> DepartmentFigures:
        for figures in self.departments:
            if figures.department_id == department_id:
                return figures
        raise KeyError(department_id)


class _Name(NamedTuple):
    """What a digest line shows of a department: plain columns, not ORM objects, because
    loading hundreds of `Department` entities cost more than the query that found them."""

    id: int
    code: str
    name: str


def _ranking_key(item: tuple[DepartmentMetrics, float, _Name]) -> tuple[float, int, str]:
    metrics, value, department = item
    return (-value, -metrics.received, department.code)


async def in_service_since(session: AsyncSession) -> datetime | None:
    """When the campaign started using the bot: its first report, office action or message
    (None: not yet). A month that ended before then gets no digest: a fresh installation's
    first start must not send everybody an all-zero bulletin of a month nobody used it in.
    Each table's first row by id is its oldest, so this reads three rows, not three tables."""
    firsts = [
        await session.scalar(select(col(created)).order_by(col(key)).limit(1))
        for created, key in (
            (Report.created_at, Report.id),
            (AuditEvent.created_at, AuditEvent.id),
            (OutboxMessage.created_at, OutboxMessage.id),
        )
    ]
    known = [moment for moment in firsts if moment is not None]
    return min(known) if known else None


async def build_digest(
    session: AsyncSession,
    month: date,
    now: datetime,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    limits: Limits,
    weights: ScoreWeights,
    overdue_limit: int = 20,
) -> Digest:
    """The digest of `month` (its first day, local) as judged at `now`.

    One statement of `department_metrics`, one for every department's overdue numbers, one for
    the departments' names and two of `duty_metrics`: five in all, whatever the size of the month.
    """
    start, end = month_bounds(month, tz)
    rows = await department_metrics(
        session, start, end, now, calendar=calendar, tz=tz, limits=limits
    )
    overdue = await overdue_numbers_by_department(session, now, limit=overdue_limit)
    duties = await duty_metrics(session, start, end, now)
    service_ratings = await rating_figures(session, month, end.astimezone(tz).date() - ONE_DAY)
    ids = [row.department_id for row in rows if row.department_id is not None]
    result = await session.exec(
        select_rows(col(Department.id), col(Department.code), col(Department.name)).where(
            col(Department.id).in_(ids)
        )
    )
    departments = {row[0]: _Name(*row) for row in result.all()}

    ranked: list[tuple[DepartmentMetrics, float, _Name]] = []
    unranked: list[tuple[DepartmentMetrics, float | None, _Name]] = []
    for row in rows:
        department = departments[row.department_id]
        duty = duties.get(row.department_id) if row.department_id is not None else None
        value = score(row, weights, duty) if _judged(row, duty) else None
        if value is None:
            unranked.append((row, value, department))
        else:
            ranked.append((row, value, department))
    ranked.sort(key=_ranking_key)
    unranked.sort(key=lambda item: item[2].code)

    figures: list[DepartmentFigures] = []
    rank = 0
    previous: float | None = None
    for position, (row, value, department) in enumerate(ranked, start=1):
        if value != previous:
            rank, previous = position, value
        figures.append(_figures(row, department, overdue, value, rank, duties))
    figures += [_figures(row, d, overdue, None, None, duties) for row, _value, d in unranked]
    return Digest(
        month=month,
        start=start,
        end=end,
        now=now,
        departments=tuple(figures),
        totals=total(rows),
        weights=weights,
        duty_totals=sum(duties.values(), DutyMetrics()),
        service_ratings=service_ratings,
    )


def _judged(row: DepartmentMetrics, duty: DutyMetrics | None) -> bool:
    """A unit is ranked on what fell to it this month: reports received, or submissions and
    ledger items falling due. A unit with none of these has nothing to be judged on."""
    return bool(row.received or (duty is not None and (duty.submissions_due or duty.items_due)))


def _figures(
    row: DepartmentMetrics,
    department: _Name,
    overdue: dict[int, list[str]],
    value: float | None,
    rank: int | None,
    duties: dict[int, DutyMetrics],
) -> DepartmentFigures:
    return DepartmentFigures(
        department_id=department.id,
        code=department.code,
        name=department.name,
        metrics=row,
        overdue_numbers=tuple(overdue.get(department.id, ())),
        score=value,
        rank=rank,
        duties=duties.get(department.id, DutyMetrics()),
    )


@dataclass(frozen=True)
class ReportRow:
    """One report as the workbook lists it: no account, no Telegram id, and a name and phone
    only when the reporter chose real name (the SQL returns NULL otherwise)."""

    number: str
    created_at: datetime
    assigned_at: datetime | None
    category: str
    department_id: int | None
    department: str | None
    state: ReportState
    due_at: datetime | None
    due_kind: str | None
    signed_on_time: bool | None
    """None when not assigned in the month (no sign due to measure against) or not yet due."""
    answered_on_time: bool | None
    """The latest reply against the reply due in force then; None before any reply."""
    rating: str | None
    identity_mode: IdentityMode
    reporter_name: str | None
    reporter_phone: str | None


async def month_report_count(session: AsyncSession, digest: Digest | MonthSpan) -> int:
    """How many rows `month_report_rows` yields without `department_ids`: a progress bar's total."""
    statement = (
        select(func.count())
        .select_from(Report)
        .where(col(Report.created_at) >= digest.start, col(Report.created_at) < digest.end)
    )
    return int(await session.scalar(statement) or 0)


async def month_report_rows(
    session: AsyncSession,
    digest: Digest | MonthSpan,
    *,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    limits: Limits,
    language: str = "zh_CN",
    department_ids: Sequence[int] | None = None,
    chunk_size: int = 2000,
) -> AsyncIterator[ReportRow]:
    """The month's reports, streamed in chunks so a large month never sits in memory.

    Without `department_ids`: every report filed in the month (`created_at`), by number. With
    them: the reports those departments received in the month (`assigned_at`, the `received`
    figure), by department then number.
    """
    sign_due = sign_due_expr(digest.start, digest.end, calendar, tz, limits.sign_days)
    handler = aliased(Department)
    latest_reply = aliased(ReportEvent)
    reply_on_time = (
        select(
            case(
                (col(latest_reply.due_at).is_(None), literal(None)),
                (col(latest_reply.created_at) <= col(latest_reply.due_at), literal(1)),
                else_=literal(0),
            )
        )
        .where(
            col(latest_reply.report_id) == col(Report.id),
            col(latest_reply.kind) == EventKind.replied,
        )
        .order_by(col(latest_reply.created_at).desc(), col(latest_reply.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    real_name = col(Report.identity_mode) == IdentityMode.real_name
    category_name = col(Category.name_en) if language == "en" else col(Category.name_zh)
    statement = (
        select(
            col(Report.number),
            col(Report.created_at),
            col(Report.assigned_at),
            category_name,
            col(Report.handling_department_id),
            col(handler.name),
            col(Report.state),
            col(Report.due_at),
            col(Report.due_kind),
            col(Report.signed_at),
            sign_due,
            reply_on_time,
            col(Report.rating),
            col(Report.identity_mode),
            case((real_name, col(Report.reporter_name)), else_=None),
            case((real_name, col(Report.reporter_phone)), else_=None),
        )
        .join(Category, col(Category.id) == col(Report.category_id))
        .outerjoin(handler, col(handler.id) == col(Report.handling_department_id))
    )
    if department_ids is None:
        statement = statement.where(
            col(Report.created_at) >= digest.start, col(Report.created_at) < digest.end
        ).order_by(col(Report.number))
    else:
        statement = statement.where(
            and_(
                col(Report.handling_department_id).in_(list(department_ids)),
                col(Report.assigned_at) >= digest.start,
                col(Report.assigned_at) < digest.end,
            )
        ).order_by(col(Report.handling_department_id), col(Report.number))
    result = await session.stream(statement.execution_options(yield_per=chunk_size))
    async for partition in result.partitions(chunk_size):
        for row in partition:
            yield _report_row(row, digest.now)


def _report_row(row: Sequence[Any], now: datetime) -> ReportRow:
    # A streamed row of `month_report_rows`: its columns are untyped in SQLAlchemy's stream.
    (number, created, assigned, category, dept_id, dept, state, due_at, due_kind) = row[:9]
    signed_at, sign_due, reply_on_time, rating, mode, name, phone = row[9:]
    signed_on_time: bool | None = None
    if isinstance(sign_due, datetime):
        if isinstance(signed_at, datetime):
            signed_on_time = signed_at <= sign_due
        elif sign_due < now:
            signed_on_time = False
    return ReportRow(
        number=str(number),
        created_at=created,
        assigned_at=assigned,
        category=str(category),
        department_id=dept_id,
        department=dept,
        state=ReportState(state),
        due_at=due_at,
        due_kind=due_kind,
        signed_on_time=signed_on_time,
        answered_on_time=None if reply_on_time is None else bool(reply_on_time),
        rating=rating,
        identity_mode=IdentityMode(mode),
        reporter_name=name,
        reporter_phone=phone,
    )
