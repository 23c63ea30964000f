"""The ladder of reminders, 催办 and 督办 in working days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from db.calendar.reminders import (
    Ladder,
    Rung,
    due_rungs,
    due_steps,
    ladder_for,
    reminder_expires_at,
    step_key,
)
from db.calendar.workdays import (
    WorkCalendar,
    end_of_day,
    local_date,
    next_working_day,
    previous_working_day,
)

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()
LADDER = Ladder()


def due_on(day: date) -> datetime:
    return end_of_day(day, TZ)


def test_a_ladder_around_national_day() -> None:
    # The working day after 2026-09-30 is the first one after the National Day holidays.
    due = due_on(date(2026, 9, 30))
    steps = {(s.rung, s.offset): s.at for s in ladder_for(due, LADDER, CALENDAR, TZ)}
    after = next_working_day(date(2026, 9, 30), CALENDAR)
    assert after > date(2026, 10, 7)
    assert local_date(steps[(Rung.urge, 1)], TZ) == after
    assert local_date(steps[(Rung.remind, -1)], TZ) == previous_working_day(
        date(2026, 9, 30), CALENDAR
    )
    assert steps[(Rung.remind, 0)].astimezone(TZ).time() == time(9, 0)


def test_which_rungs_are_due_when() -> None:
    due = due_on(date(2026, 3, 18))  # a Wednesday
    at = {(s.rung, s.offset): s.at for s in ladder_for(due, LADDER, CALENDAR, TZ)}
    assert (
        due_steps(due, None, at[(Rung.remind, -1)] - timedelta(seconds=1), LADDER, CALENDAR, TZ)
        == []
    )
    [first] = due_steps(due, None, at[(Rung.remind, -1)], LADDER, CALENDAR, TZ)
    assert (first.rung, first.offset) == (Rung.remind, -1)
    # Set after the 09:00 rung of the day before: that reminder is not sent.
    late = at[(Rung.remind, -1)] + timedelta(hours=2)
    assert due_steps(due, late, late, LADDER, CALENDAR, TZ) == []
    after = due_steps(due, None, at[(Rung.urge, 1)], LADDER, CALENDAR, TZ)
    assert [(s.rung, s.offset) for s in after] == [(Rung.urge, 1)]
    later = due_steps(due, None, at[(Rung.supervise, 3)], LADDER, CALENDAR, TZ)
    assert [s.rung for s in later] == [Rung.urge, Rung.supervise]


def test_keys_name_the_deadline_the_rung_and_the_day() -> None:
    due = due_on(date(2026, 4, 3))
    step = ladder_for(due, LADDER, CALENDAR, TZ)[0]
    assert step_key("report", "reply", "ZF2026-000123", step, due, TZ) == (
        "remind:report_reply_due:ZF2026-000123:-1:2026-04-03"
    )


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(2025, 1, 2), max_value=date(2026, 12, 20)),
    hours=st.integers(min_value=-24 * 20, max_value=24 * 20),
)
def test_rungs_fall_on_working_days_in_order_and_reminders_never_after_the_deadline(
    day: date, hours: int
) -> None:
    due_day = day if CALENDAR.is_working_day(day) else next_working_day(day, CALENDAR)
    due = due_on(due_day)
    steps = ladder_for(due, LADDER, CALENDAR, TZ)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert all(CALENDAR.is_working_day(local_date(s.at, TZ)) for s in steps)
    now = due + timedelta(hours=hours)
    for step in due_steps(due, None, now, LADDER, CALENDAR, TZ):
        assert step.at <= now
        assert (step.rung is Rung.remind) == (now <= due)


def test_only_the_highest_due_rung_is_sent_and_the_lower_ones_passed_over() -> None:
    due = due_on(date(2026, 3, 18))  # a Wednesday
    at = {(s.rung, s.offset): s.at for s in ladder_for(due, LADDER, CALENDAR, TZ)}

    def rungs(now: datetime) -> tuple[tuple[Rung, int] | None, list[tuple[Rung, int]]]:
        found = due_rungs(due, None, now, LADDER, CALENDAR, TZ)
        send = (found.send.rung, found.send.offset) if found.send else None
        return send, [(s.rung, s.offset) for s in found.passed_over]

    assert rungs(at[(Rung.remind, -1)] - timedelta(seconds=1)) == (None, [])
    assert rungs(at[(Rung.remind, -1)]) == ((Rung.remind, -1), [])
    # Down over the day before: on the due day only the due day's reminder.
    assert rungs(at[(Rung.remind, 0)]) == ((Rung.remind, 0), [(Rung.remind, -1)])
    # Down until after the deadline: reminders are over, the 催办 alone.
    assert rungs(at[(Rung.urge, 1)]) == ((Rung.urge, 1), [])
    # Down for a week: the 督办, and the 催办 passed over.
    assert rungs(at[(Rung.supervise, 3)] + timedelta(days=2)) == (
        (Rung.supervise, 3),
        [(Rung.urge, 1)],
    )


def test_a_reminder_expires_with_its_deadline_and_an_escalation_never() -> None:
    due = due_on(date(2026, 3, 18))
    steps = {(s.rung, s.offset): s for s in ladder_for(due, LADDER, CALENDAR, TZ)}
    assert reminder_expires_at(steps[(Rung.remind, 0)], due) == due
    assert reminder_expires_at(steps[(Rung.remind, -1)], due) == due
    assert reminder_expires_at(steps[(Rung.urge, 1)], due) is None
    assert reminder_expires_at(steps[(Rung.supervise, 3)], due) is None
