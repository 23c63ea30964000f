"""Working days: real 2025/2026 holidays, 调休, unknown years, time zones, the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from db.calendar.workdays import (
    WorkCalendar,
    add_working_days,
    deadline_is_guessed,
    end_of_day,
    list_overrides,
    load_calendar,
    next_working_day,
    previous_working_day,
    remove_override,
    set_override,
    working_days_between,
)
from db.engine import session_factory
from db.models import Account, CalendarOverride

SHANGHAI = ZoneInfo("Asia/Shanghai")
FIRST_KNOWN = date(2004, 1, 1)
LAST_KNOWN = date(2026, 12, 31)
END_OF_DAY = time(23, 59, 59, 999_999)


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def due_date(start: datetime, days: int, calendar: WorkCalendar | None = None) -> date:
    """The local due date, after checking the due time is the very end of that local day."""
    due = add_working_days(start, days, calendar or WorkCalendar(), SHANGHAI)
    assert due.tzinfo == UTC
    assert due.astimezone(SHANGHAI).time() == END_OF_DAY
    return due.astimezone(SHANGHAI).date()


# --- the packaged calendar --------------------------------------------------------------------


def test_agrees_with_chinese_calendar_on_every_known_day() -> None:
    calendar = WorkCalendar()
    day = FIRST_KNOWN
    while day <= LAST_KNOWN:
        assert calendar.is_working_day(day) == chinese_calendar.is_workday(day), day
        assert calendar.is_known(day)
        day += timedelta(days=1)
    assert calendar.unknown_years == frozenset()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 26), True),  # Friday
        (date(2025, 9, 27), False),  # Saturday
        (date(2025, 9, 28), True),  # Sunday, make-up working day for National Day
        *[(date(2025, 10, d), False) for d in range(1, 9)],  # National Day + Mid-Autumn
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),  # Saturday, make-up working day
        (date(2026, 2, 14), True),  # Saturday, make-up working day for Spring Festival
        *[(date(2026, 2, d), False) for d in range(15, 24)],  # Spring Festival 2026
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, make-up working day
    ],
)
def test_real_holidays_and_make_up_days(day: date, working: bool) -> None:
    assert WorkCalendar().is_working_day(day) is working


def test_next_and_previous_working_day_cross_holidays_and_make_up_days() -> None:
    calendar = WorkCalendar()
    assert next_working_day(date(2025, 9, 26), calendar) == date(2025, 9, 28)  # the make-up Sunday
    assert next_working_day(date(2025, 9, 30), calendar) == date(2025, 10, 9)
    assert previous_working_day(date(2025, 10, 9), calendar) == date(2025, 9, 30)
    assert previous_working_day(date(2025, 9, 29), calendar) == date(2025, 9, 28)
    assert next_working_day(date(2026, 2, 13), calendar) == date(2026, 2, 14)
    assert next_working_day(date(2026, 2, 14), calendar) == date(2026, 2, 24)


def test_a_datetime_is_refused_where_a_local_date_is_meant() -> None:
    with pytest.raises(TypeError):
        WorkCalendar().is_working_day(datetime(2026, 3, 16, tzinfo=UTC))
    with pytest.raises(TypeError):
        next_working_day(datetime(2026, 3, 16, tzinfo=UTC), WorkCalendar())


# --- deadlines --------------------------------------------------------------------------------


def test_deadline_is_the_last_microsecond_of_the_local_day_in_utc() -> None:
    due = add_working_days(local(2026, 3, 13, 20), 1, WorkCalendar(), SHANGHAI)
    assert due == datetime(2026, 3, 16, 15, 59, 59, 999_999, tzinfo=UTC)
    assert due + timedelta(microseconds=1) == datetime(2026, 3, 17, 0, 0, tzinfo=SHANGHAI)


def test_friday_evening_counts_from_monday() -> None:
    friday_evening = local(2026, 3, 13, 20, 30)
    assert due_date(friday_evening, 0) == date(2026, 3, 13)
    assert due_date(friday_evening, 1) == date(2026, 3, 16)
    assert due_date(friday_evening, 5) == date(2026, 3, 20)


def test_across_national_day_2025() -> None:
    before = local(2025, 9, 30, 16)
    assert due_date(before, 1) == date(2025, 10, 9)
    assert due_date(before, 2) == date(2025, 10, 10)
    assert due_date(before, 3) == date(2025, 10, 11)  # the make-up Saturday counts
    assert due_date(before, 4) == date(2025, 10, 13)
    during = local(2025, 10, 3)
    assert due_date(during, 0) == date(2025, 10, 9)
    assert due_date(during, 1) == date(2025, 10, 9)


def test_starting_on_a_make_up_sunday() -> None:
    sunday = local(2025, 9, 28, 9)
    assert due_date(sunday, 0) == date(2025, 9, 28)  # it is a working day: today
    assert due_date(sunday, 1) == date(2025, 9, 29)
    assert due_date(sunday, 2) == date(2025, 9, 30)
    assert due_date(sunday, 3) == date(2025, 10, 9)


def test_across_spring_festival_2026() -> None:
    friday = local(2026, 2, 13, 17)
    assert due_date(friday, 1) == date(2026, 2, 14)  # make-up Saturday
    assert due_date(friday, 2) == date(2026, 2, 24)
    assert due_date(friday, 5) == date(2026, 2, 27)
    assert due_date(friday, 6) == date(2026, 2, 28)  # make-up Saturday


def test_zero_days_on_a_day_off_is_the_next_working_day() -> None:
    saturday = local(2026, 3, 14)
    assert due_date(saturday, 0) == date(2026, 3, 16)
    assert due_date(saturday, 1) == date(2026, 3, 16)
    assert due_date(saturday, 2) == date(2026, 3, 17)


def test_negative_days_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="days"):
        add_working_days(local(2026, 3, 16), -1, WorkCalendar(), SHANGHAI)
    with pytest.raises(ValueError, match="aware"):
        add_working_days(datetime(2026, 3, 16, 10), 1, WorkCalendar(), SHANGHAI)


def test_late_evening_in_shanghai_is_the_same_utc_day() -> None:
    start = local(2026, 3, 16, 23, 30)
    assert start.astimezone(UTC) == datetime(2026, 3, 16, 15, 30, tzinfo=UTC)
    assert due_date(start, 0) == date(2026, 3, 16)
    assert due_date(start, 1) == date(2026, 3, 17)


def test_counting_uses_the_local_date_not_the_utc_date() -> None:
    # 00:30 Monday in Shanghai is still Sunday in UTC.
    start = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
    assert start.astimezone(SHANGHAI).date() == date(2026, 3, 16)
    assert due_date(start, 0) == date(2026, 3, 16)
    assert due_date(start, 1) == date(2026, 3, 17)
    in_utc = add_working_days(start, 1, WorkCalendar(), ZoneInfo("UTC"))
    assert in_utc == datetime(2026, 3, 16, 23, 59, 59, 999_999, tzinfo=UTC)


def test_end_of_day_follows_a_short_dst_day() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert end_of_day(date(2026, 3, 29), berlin) == datetime(
        2026, 3, 29, 21, 59, 59, 999_999, tzinfo=UTC
    )


def test_working_days_between_counts_overdue_days() -> None:
    calendar = WorkCalendar()
    due = add_working_days(local(2025, 9, 25), 1, calendar, SHANGHAI)  # end of Fri 26 Sep
    assert working_days_between(due, local(2025, 9, 26, 23), calendar, SHANGHAI) == 0
    assert working_days_between(due, local(2025, 9, 27), calendar, SHANGHAI) == 0
    assert working_days_between(due, local(2025, 9, 28), calendar, SHANGHAI) == 1
    # 28 Sep (make-up), 29, 30 Sep, then the holiday, then 9 Oct.
    assert working_days_between(due, local(2025, 10, 9, 8), calendar, SHANGHAI) == 4
    assert working_days_between(local(2025, 10, 9, 8), due, calendar, SHANGHAI) == -4


# --- years the package does not know ----------------------------------------------------------


def test_an_unknown_year_is_guessed_and_recorded() -> None:
    calendar = WorkCalendar()
    assert not calendar.is_known(date(2027, 2, 8))
    assert calendar.unknown_years == frozenset()  # asking is_known guesses nothing
    assert calendar.is_working_day(date(2027, 2, 8))  # a Monday
    assert not calendar.is_working_day(date(2027, 2, 6))  # a Saturday
    assert calendar.unknown_years == {2027}
    assert not calendar.is_working_day(date(2003, 12, 27))  # before the package too
    assert calendar.unknown_years == {2003, 2027}


def test_an_override_for_2027_changes_the_deadline_and_makes_the_day_known() -> None:
    start = local(2027, 2, 5, 15)  # a Friday
    guessed = WorkCalendar()
    assert due_date(start, 1, guessed) == date(2027, 2, 8)
    assert deadline_is_guessed(
        start, add_working_days(start, 1, guessed, SHANGHAI), guessed, SHANGHAI
    )

    # Invented for the test (the real 2027 dates are not published yet).
    spring_festival = {date(2027, 2, d): False for d in range(8, 13)}
    spring_festival[date(2027, 2, 6)] = True  # a 调休 Saturday
    calendar = WorkCalendar(spring_festival)
    assert calendar.is_known(date(2027, 2, 8))
    assert not calendar.is_working_day(date(2027, 2, 8))
    assert not calendar.is_known(date(2027, 2, 15))
    assert due_date(start, 1, calendar) == date(2027, 2, 6)
    assert due_date(start, 2, calendar) == date(2027, 2, 15)
    assert calendar.unknown_years == {2027}  # the weekend and 15 Feb were still guesses

    # The start day counts (days=0 depends on it): only when every day from start to due is
    # covered is the deadline no longer a guess.
    due = add_working_days(start, 1, calendar, SHANGHAI)
    assert deadline_is_guessed(start, due, calendar, SHANGHAI)
    covered = WorkCalendar({**spring_festival, date(2027, 2, 5): True})
    assert not deadline_is_guessed(start, due, covered, SHANGHAI)
    assert deadline_is_guessed(
        start, add_working_days(start, 2, covered, SHANGHAI), covered, SHANGHAI
    )


def test_a_confirmed_year_is_known_without_overriding_every_ordinary_day() -> None:
    calendar = WorkCalendar({date(2027, 2, 8): False}, confirmed_years=[2027])
    start = local(2027, 2, 5, 15)
    due = add_working_days(start, 2, calendar, SHANGHAI)
    assert due.astimezone(SHANGHAI).date() == date(2027, 2, 10)  # 8 Feb is off
    assert calendar.is_known(date(2027, 3, 3))
    assert not deadline_is_guessed(start, due, calendar, SHANGHAI)
    assert calendar.unknown_years == frozenset()
    assert not calendar.is_working_day(date(2028, 1, 1))  # a Saturday, and 2028 is not confirmed
    assert calendar.unknown_years == {2028}


def test_a_deadline_running_into_2027_is_a_guess_and_one_inside_2026_is_not() -> None:
    calendar = WorkCalendar()
    start = local(2026, 12, 28)
    into_2027 = add_working_days(start, 5, calendar, SHANGHAI)
    assert into_2027.astimezone(SHANGHAI).year == 2027
    assert deadline_is_guessed(start, into_2027, calendar, SHANGHAI)
    inside = add_working_days(local(2026, 12, 21), 3, calendar, SHANGHAI)
    assert not deadline_is_guessed(local(2026, 12, 21), inside, calendar, SHANGHAI)
    assert deadline_is_guessed(into_2027, start, calendar, SHANGHAI)  # order does not matter


# --- properties -------------------------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2004, 1, 2), max_value=datetime(2026, 9, 30), timezones=st.just(UTC)
)
day_counts = st.integers(min_value=0, max_value=30)


def oracle_count(first: date, last: date, is_working: Callable[[date], bool]) -> int:
    """Working days strictly after `first` up to and including `last`, by brute force."""
    return sum(
        1 for n in range(1, (last - first).days + 1) if is_working(first + timedelta(days=n))
    )


def check_deadline(
    start: datetime, days: int, calendar: WorkCalendar, is_working: Callable[[date], bool]
) -> None:
    due = add_working_days(start, days, calendar, SHANGHAI)
    start_day = start.astimezone(SHANGHAI).date()
    due_day = due.astimezone(SHANGHAI).date()
    assert due >= start
    assert due.astimezone(SHANGHAI).time() == END_OF_DAY
    assert is_working(due_day)
    if days >= 1:
        assert oracle_count(start_day, due_day, is_working) == days
        assert working_days_between(start, due, calendar, SHANGHAI) == days
    else:
        assert all(
            not is_working(start_day + timedelta(days=n)) for n in range((due_day - start_day).days)
        )
    assert not deadline_is_guessed(start, due, calendar, SHANGHAI)


@settings(deadline=None, max_examples=200)
@given(start=starts, days=day_counts)
def test_property_deadline_matches_chinese_calendar(start: datetime, days: int) -> None:
    check_deadline(start, days, WorkCalendar(), chinese_calendar.is_workday)


@settings(deadline=None, max_examples=150)
@given(start=starts, days=st.integers(min_value=0, max_value=29))
def test_property_monotonic_in_days(start: datetime, days: int) -> None:
    calendar = WorkCalendar()
    earlier = add_working_days(start, days, calendar, SHANGHAI)
    later = add_working_days(start, days + 1, calendar, SHANGHAI)
    assert earlier <= later
    if days >= 1 or calendar.is_working_day(start.astimezone(SHANGHAI).date()):
        assert earlier < later


@settings(deadline=None, max_examples=150)
@given(
    start=starts,
    delay=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    days=day_counts,
)
def test_property_monotonic_in_start(start: datetime, delay: timedelta, days: int) -> None:
    calendar = WorkCalendar()
    assert add_working_days(start, days, calendar, SHANGHAI) <= add_working_days(
        start + delay, days, calendar, SHANGHAI
    )


@settings(deadline=None, max_examples=150)
@given(
    start=starts,
    offsets=st.lists(st.integers(min_value=-3, max_value=60), max_size=15),
    flags=st.lists(st.booleans(), min_size=15, max_size=15),
    days=day_counts,
)
def test_property_overrides_win(
    start: datetime, offsets: list[int], flags: list[bool], days: int
) -> None:
    start_day = start.astimezone(SHANGHAI).date()
    overrides = {
        start_day + timedelta(days=offset): flag
        for offset, flag in zip(offsets, flags, strict=False)
    }
    calendar = WorkCalendar(overrides)

    def is_working(day: date) -> bool:
        if day in overrides:
            return overrides[day]
        return bool(chinese_calendar.is_workday(day))

    check_deadline(start, days, calendar, is_working)


@settings(deadline=None, max_examples=100)
@given(a=starts, b=starts, c=starts)
def test_property_working_days_between_is_additive(a: datetime, b: datetime, c: datetime) -> None:
    calendar = WorkCalendar()
    ab = working_days_between(a, b, calendar, SHANGHAI)
    assert ab == -working_days_between(b, a, calendar, SHANGHAI)
    assert working_days_between(a, c, calendar, SHANGHAI) == ab + working_days_between(
        b, c, calendar, SHANGHAI
    )


@settings(deadline=None, max_examples=200)
@given(day=st.dates(min_value=date(2004, 2, 1), max_value=date(2026, 11, 30)))
def test_property_next_and_previous_working_day(day: date) -> None:
    calendar = WorkCalendar()
    after = next_working_day(day, calendar)
    before = previous_working_day(day, calendar)
    assert before < day < after
    assert calendar.is_working_day(after) and calendar.is_working_day(before)
    gap = [before + timedelta(days=n) for n in range(1, (after - before).days)]
    assert all(not calendar.is_working_day(d) for d in gap if d != day)


# --- the database -----------------------------------------------------------------------------


async def test_overrides_round_trip_and_feed_the_calendar(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        admin = Account(telegram_id=111)
        session.add(admin)
        await session.flush()
        assert admin.id is not None
        await set_override(session, date(2027, 2, 8), False, " 2027 春节 ", admin.id)
        await set_override(session, date(2027, 2, 6), True, "2027 春节调休", admin.id)
        await set_override(session, date(2026, 5, 6), False, None, None)
        await session.commit()

    async with sessions() as session:
        rows = await list_overrides(session)
        assert [(r.day, r.working, r.note) for r in rows] == [
            (date(2026, 5, 6), False, None),
            (date(2027, 2, 6), True, "2027 春节调休"),
            (date(2027, 2, 8), False, "2027 春节"),
        ]
        assert rows[1].created_by_account_id is not None
        assert rows[1].created_at.tzinfo is not None
        assert [r.day for r in await list_overrides(session, 2027)] == [
            date(2027, 2, 6),
            date(2027, 2, 8),
        ]
        assert await list_overrides(session, 2028) == []

        calendar = await load_calendar(session)
        assert dict(calendar.overrides) == {
            date(2026, 5, 6): False,
            date(2027, 2, 6): True,
            date(2027, 2, 8): False,
        }
        assert not calendar.is_working_day(date(2026, 5, 6))  # a Wednesday made a day off
        assert calendar.is_known(date(2027, 2, 8))
        assert due_date(local(2027, 2, 5), 2, calendar) == date(2027, 2, 9)

    async with sessions() as session:
        loaded = await session.get(CalendarOverride, date(2027, 2, 8))
        assert loaded is not None and not loaded.working
        await set_override(session, date(2027, 2, 8), True, "改为工作日", None)  # upsert
        assert loaded.working and loaded.note == "改为工作日"  # the loaded row is refreshed
        assert await remove_override(session, date(2026, 5, 6))
        assert not await remove_override(session, date(2026, 5, 6))
        await session.commit()

    async with sessions() as session:
        rows = await list_overrides(session)
        assert [(r.day, r.working, r.note, r.created_by_account_id) for r in rows] == [
            (date(2027, 2, 6), True, "2027 春节调休", rows[0].created_by_account_id),
            (date(2027, 2, 8), True, "改为工作日", None),
        ]
        calendar = await load_calendar(session)
        assert calendar.is_working_day(date(2026, 5, 6)) == chinese_calendar.is_workday(
            date(2026, 5, 6)
        )
        assert calendar.is_working_day(date(2027, 2, 8))


async def test_a_note_longer_than_the_column_is_refused(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        with pytest.raises(ValueError, match="note"):
            await set_override(session, date(2027, 1, 1), False, "元" * 101, None)
        await set_override(session, date(2027, 1, 1), False, "元" * 100, None)
        await session.commit()
        assert (await list_overrides(session, 2027))[0].note == "元" * 100
