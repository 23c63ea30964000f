"""Working-day arithmetic on the Chinese calendar: the foundation of every deadline.

Every time limit in the campaign (限时办结, 催办, 督办, quarterly reports "within 5 working
days") is counted in working days (工作日) in the campaign time zone, so one set of rules lives
here and reminders, escalations and digests all call it:

* A day is a working day if an admin override says so; otherwise `chinese_calendar` decides
  (public holidays are off, make-up working days 调休 such as a Sunday are on). For a year the
  package does not know (it ships 2004–2026 and raises for the rest) Monday–Friday is used as a
  guess. A guess never raises, because a slightly wrong deadline is better than a bot that cannot
  accept reports on 1 January; but it is recorded (`WorkCalendar.unknown_years`,
  `WorkCalendar.is_known`, `deadline_is_guessed`) so the office can be warned to enter next year's
  holidays.
* Counting uses the *local* date of the start in the campaign time zone, never its UTC date:
  a report sent at 07:30 Monday in Shanghai is 23:30 Sunday UTC.
* A deadline is the end of a local day: the last microsecond before the next local midnight
  (23:59:59.999999), returned in UTC. That leaves no gap in which a moment is neither on time nor
  late: a moment is late exactly when its local date is after the due date. (23:59:59 would leave
  a one-second hole.)
* `add_working_days(start, n)` with n ≥ 1 is the end of the n-th working day strictly after the
  start's local date: the day a report arrives is never counted, even at 08:00, which is how
  "N 个工作日内办结" is applied in practice. n = 0 means "today": the end of the start's local day
  if it is a working day, else the end of the next working day (so on a day off 0 and 1 agree).
* `working_days_between(a, b)` counts the working days whose local date is after a's and up to and
  including b's (negative when b is earlier), so it inverts `add_working_days` for n ≥ 1.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import CalendarOverride, CalendarYear, utcnow

logger = logging.getLogger(__name__)

NOTE_MAX_LENGTH = 100
_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
_warned_years: set[int] = set()


@cache
def package_knows_year(year: int) -> bool:
    """Whether `chinese_calendar` has published data for this year (asked once per process)."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _package_is_workday(day: date) -> bool:
    """`chinese_calendar.is_workday`, memoised.

    The package scans its whole holiday table on every call (~40 µs) and counting across months
    calls it thousands of times. Only known years reach here, so the cache stays bounded (about
    365 entries per published year).
    """
    return bool(chinese_calendar.is_workday(day))


def _require_date(day: date) -> None:
    # datetime is a subclass of date: accepting one would silently use its own (maybe UTC) date
    # instead of the campaign-local date, the exact mistake this module exists to prevent.
    if isinstance(day, datetime):
        raise TypeError("pass a date in the campaign time zone, not a datetime")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime; a naive one has no local date")


class WorkCalendar:
    """Decides whether a day is a working day: admin overrides first, then the packaged calendar.

    Built once per scan or request (see `load_calendar`) and cheap to query; it remembers which
    years it had to guess so the caller can warn admins after computing a batch of deadlines.

    Overrides only list the exceptional days (holidays, 调休), so after the office has entered a
    whole new year its ordinary weekdays would still count as guesses. `confirmed_years` (e.g.
    from configuration) declares such years complete: their remaining days follow Monday–Friday
    without being reported as guesses.
    """

    def __init__(
        self, overrides: Mapping[date, bool] | None = None, confirmed_years: Iterable[int] = ()
    ) -> None:
        self._overrides: dict[date, bool] = dict(overrides or {})
        for day in self._overrides:
            _require_date(day)
        self._confirmed_years = frozenset(confirmed_years)
        self._guessed_years: set[int] = set()

    def __repr__(self) -> str:
        return f"WorkCalendar(overrides={len(self._overrides)})"

    @property
    def overrides(self) -> Mapping[date, bool]:
        """Read-only view: a calendar must not change under a computation that is using it."""
        return MappingProxyType(self._overrides)

    @property
    def confirmed_years(self) -> frozenset[int]:
        """Years declared complete although the package does not know them."""
        return self._confirmed_years

    @property
    def unknown_years(self) -> frozenset[int]:
        """Years for which `is_working_day` has answered with a Monday–Friday guess so far."""
        return frozenset(self._guessed_years)

    def is_known(self, day: date) -> bool:
        """True when the answer is authoritative: an override, published data or a confirmed year.

        Pure: unlike `is_working_day` it records nothing, so checking does not raise alarms.
        """
        _require_date(day)
        return (
            day in self._overrides
            or day.year in self._confirmed_years
            or package_knows_year(day.year)
        )

    def is_working_day(self, day: date) -> bool:
        """Override, else the packaged calendar (调休 included), else a recorded weekday guess."""
        _require_date(day)
        override = self._overrides.get(day)
        if override is not None:
            return override
        if package_knows_year(day.year):
            return _package_is_workday(day)
        if day.year not in self._confirmed_years:
            self._record_guess(day.year)
        return day.weekday() < 5

    def _record_guess(self, year: int) -> None:
        self._guessed_years.add(year)
        if year not in _warned_years:
            _warned_years.add(year)
            logger.warning(
                "no holiday data for %s: guessing Monday-Friday; add the official holidays "
                "and make-up working days as calendar overrides",
                year,
            )


def next_working_day(day: date, calendar: WorkCalendar) -> date:
    """The first working day strictly after `day`."""
    _require_date(day)
    day += _ONE_DAY
    while not calendar.is_working_day(day):
        day += _ONE_DAY
    return day


def previous_working_day(day: date, calendar: WorkCalendar) -> date:
    """The last working day strictly before `day`."""
    _require_date(day)
    day -= _ONE_DAY
    while not calendar.is_working_day(day):
        day -= _ONE_DAY
    return day


def working_day_after(day: date, days: int, calendar: WorkCalendar) -> date:
    """The `days`-th working day strictly after `day` (0: `day` itself if it is a working day,
    else the next one): how a time limit of N working days is counted."""
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    if days == 0:
        return day if calendar.is_working_day(day) else next_working_day(day, calendar)
    for _ in range(days):
        day = next_working_day(day, calendar)
    return day


def shift_working_days(day: date, days: int, calendar: WorkCalendar) -> date:
    """`days` working days later (earlier when negative), counted from `day` whatever it is."""
    step = next_working_day if days > 0 else previous_working_day
    for _ in range(abs(days)):
        day = step(day, calendar)
    return day


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar date of an aware moment in the campaign time zone."""
    _require_aware(moment, "moment")
    return moment.astimezone(tz).date()


def end_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The last microsecond of a local day, in UTC (next local midnight minus 1 µs).

    Computed from the next midnight rather than by writing 23:59:59.999999 so that a day that is
    not 24 hours long (a DST change in a zone other than Shanghai) still ends where it should.
    """
    _require_date(day)
    next_midnight = datetime.combine(day + _ONE_DAY, time(0), tzinfo=tz)
    return next_midnight.astimezone(UTC) - _ONE_MICROSECOND


def add_working_days(start: datetime, days: int, calendar: WorkCalendar, tz: ZoneInfo) -> datetime:
    """The due time `days` working days after `start`, as an aware UTC datetime.

    `days >= 1`: the end of the `days`-th working day strictly after the start's local date.
    `days == 0`: the end of the start's local day if it is a working day, else of the next one.
    """
    _require_aware(start, "start")
    return end_of_day(working_day_after(local_date(start, tz), days, calendar), tz)


def _days_after(first: date, last: date) -> Iterator[date]:
    """The dates strictly after `first` up to and including `last`."""
    day = first + _ONE_DAY
    while day <= last:
        yield day
        day += _ONE_DAY


def working_days_between(
    start: datetime, end: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> int:
    """Working days with a local date after start's and up to end's; negative if end is earlier.

    With `start` a due time and `end` now, this is how many working days a case is overdue (the
    督办 rule "escalate after N working days"); it is 0 on the due day itself and its inverse
    `add_working_days(start, n)` gives back n for n >= 1.
    """
    first, last = local_date(start, tz), local_date(end, tz)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    return sign * sum(1 for day in _days_after(first, last) if calendar.is_working_day(day))


def guessed_span(
    start: datetime, due: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> tuple[date, date] | None:
    """The first and the last local day from start's to due's (both included) that rest on a
    weekday guess, or None when the deadline is exact: the dates an admin should check.

    The start day is included because `days=0` depends on it. Asking does not mark years as
    guessed: this is the check a caller makes to decide whether to warn admins.
    """
    first, last = sorted((local_date(start, tz), local_date(due, tz)))
    found: list[date] = []
    for year in range(first.year, last.year + 1):
        if package_knows_year(year) or year in calendar.confirmed_years:
            continue  # every day of the year is known: skip the day-by-day walk
        day = max(first, date(year, 1, 1))
        stop = min(last, date(year, 12, 31))
        while day <= stop:
            if not calendar.is_known(day):
                found.append(day)
            day += _ONE_DAY
    return (found[0], found[-1]) if found else None


def deadline_is_guessed(
    start: datetime, due: datetime, calendar: WorkCalendar, tz: ZoneInfo
) -> bool:
    """Whether any day the deadline was counted over rests on a guess (`guessed_span`)."""
    return guessed_span(start, due, calendar, tz) is not None


# Built once: every submitted report loads the calendar for its deadlines.
_OVERRIDES = select(col(CalendarOverride.day), col(CalendarOverride.working))
_CONFIRMED_YEARS = select(CalendarYear.year)


async def load_calendar(
    session: AsyncSession, *, confirmed_years: Iterable[int] = ()
) -> WorkCalendar:
    """Every override and confirmed year in two queries; a few dozen rows per year."""
    rows = await session.exec(_OVERRIDES)
    years = await session.exec(_CONFIRMED_YEARS)
    return WorkCalendar(
        {day: working for day, working in rows.all()}, {*confirmed_years, *years.all()}
    )


async def confirm_year(session: AsyncSession, year: int, account_id: int | None) -> None:
    """Declare a year complete (no commit); confirming it again keeps the first confirmation."""
    if await session.get(CalendarYear, year) is None:
        session.add(CalendarYear(year=year, confirmed_by_account_id=account_id))
        await session.flush()


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValueError(f"note is longer than {NOTE_MAX_LENGTH} characters")
    return note or None


async def set_override(
    session: AsyncSession, day: date, working: bool, note: str | None, account_id: int | None
) -> None:
    """Insert or replace the override for `day` in the caller's transaction (no commit).

    One upsert statement, so two admins entering the same day at once cannot collide on the
    primary key. The author and time are replaced too: the row records who made the decision that
    is in force now. Objects already loaded in the session are refreshed from the RETURNING row.
    """
    _require_date(day)
    values = {
        "day": day,
        "working": working,
        "note": _clean_note(note),
        "created_at": utcnow(),
        "created_by_account_id": account_id,
    }
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    insert = insert_fn(CalendarOverride).values(**values)
    upsert = insert.on_conflict_do_update(
        index_elements=["day"],
        set_={name: insert.excluded[name] for name in values if name != "day"},
    ).returning(CalendarOverride)
    await session.exec(upsert, execution_options={"populate_existing": True})


async def remove_override(session: AsyncSession, day: date) -> bool:
    """Drop the override for `day` (no commit); False when there was none."""
    _require_date(day)
    result = await session.exec(delete(CalendarOverride).where(col(CalendarOverride.day) == day))
    return bool(result.rowcount)


async def list_overrides(session: AsyncSession, year: int | None = None) -> list[CalendarOverride]:
    """Overrides ordered by day, optionally one calendar year (a range, so the index is used)."""
    statement = select(CalendarOverride).order_by(col(CalendarOverride.day))
    if year is not None:
        statement = statement.where(
            col(CalendarOverride.day) >= date(year, 1, 1),
            col(CalendarOverride.day) <= date(year, 12, 31),
        )
    rows = await session.exec(statement)
    return list(rows.all())
