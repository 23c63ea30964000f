"""Due-rule arithmetic, review rounds and the ledger's states, as plain functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from db.calendar.workdays import WorkCalendar
from db.duties.rules import (
    DueRule,
    SubmissionProblem,
    SubmissionStatus,
    current_due,
    due_day,
    due_time,
    file_round,
    filed_on_time,
    owed_periods,
    parse_period,
    period_of,
    review,
)
from db.models import (
    DuePeriod,
    ReviewDecision,
    SubmissionState,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
QUARTERLY = DueRule(DuePeriod.quarter, days_after=5)


@pytest.mark.parametrize(
    ("day", "kind", "key", "start", "end"),
    [
        (date(2026, 2, 10), DuePeriod.month, "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 12, 31), DuePeriod.month, "2026-12", date(2026, 12, 1), date(2026, 12, 31)),
        (date(2026, 5, 5), DuePeriod.quarter, "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 11, 22), DuePeriod.quarter, "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
        (date(2026, 7, 1), DuePeriod.half_year, "2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
    ],
)
def test_periods_and_their_keys(
    day: date, kind: DuePeriod, key: str, start: date, end: date
) -> None:
    period = period_of(kind, day)
    assert (period.key, period.start, period.end) == (key, start, end)
    assert parse_period(key) == period


def test_a_malformed_period_key_is_none() -> None:
    assert parse_period("once") is None
    assert parse_period("2026-Q9") is None
    assert parse_period("soon") is None


@pytest.mark.parametrize(
    ("quarter_day", "due"),
    [
        # Q1 ends Tuesday 31 March; 清明 closes 4–6 April: 1, 2, 3, 7, 8 April.
        (date(2026, 2, 1), date(2026, 4, 8)),
        # Q2 ends Tuesday 30 June: 1, 2, 3, 6, 7 July.
        (date(2026, 5, 1), date(2026, 7, 7)),
        # Q3 ends the day before National Day (1–7 October closed); Saturday 10 October is a
        # 调休 working day: 8, 9, 10, 12, 13 October.
        (date(2026, 8, 1), date(2026, 10, 13)),
    ],
)
def test_five_working_days_after_each_quarter(quarter_day: date, due: date) -> None:
    period = period_of(DuePeriod.quarter, quarter_day)
    assert due_day(QUARTERLY, period, WorkCalendar()) == due
    assert due_time(due, SHANGHAI).astimezone(SHANGHAI).date() == due


def test_a_period_ending_on_a_make_up_saturday() -> None:
    # Saturday 28 February 2026 is a 调休 working day: "on the last day" means that Saturday,
    # and one working day after it is Monday 2 March.
    february = period_of(DuePeriod.month, date(2026, 2, 1))
    assert due_day(DueRule(DuePeriod.month), february, WorkCalendar()) == date(2026, 2, 28)
    assert due_day(DueRule(DuePeriod.month, days_after=1), february, WorkCalendar()) == date(
        2026, 3, 2
    )


def test_a_period_ending_on_a_holiday_counts_from_the_holiday() -> None:
    # An office-declared holiday on the quarter's last day does not move the count's start.
    calendar = WorkCalendar({date(2026, 6, 30): False, date(2026, 7, 1): False})
    assert due_day(QUARTERLY, period_of(DuePeriod.quarter, date(2026, 6, 1)), calendar) == date(
        2026, 7, 8
    )
    rule = DueRule(DuePeriod.quarter, days_after=0)
    assert due_day(rule, period_of(DuePeriod.quarter, date(2026, 6, 1)), calendar) == date(
        2026, 7, 2
    )


def test_owed_periods_start_with_the_duty() -> None:
    rule = DueRule(DuePeriod.quarter, days_after=5, starts_on=date(2026, 4, 9))
    # Created in Q2: Q2, Q3 and the running Q4 are owed, not Q1.
    keys = [p.key for p in owed_periods(rule, date(2026, 11, 22)) if p]
    assert keys == ["2026-Q2", "2026-Q3", "2026-Q4"]
    # Created on 8 April, before Q1's report is due (9 April): still only the current quarter,
    # one notice for a new duty; the office names Q1 when it wants it.
    created = DueRule(DuePeriod.quarter, days_after=5, starts_on=date(2026, 4, 8))
    assert [p.key for p in owed_periods(created, date(2026, 4, 8)) if p] == ["2026-Q2"]
    asked = DueRule(DuePeriod.quarter, days_after=5, starts_on=date(2026, 1, 1))
    assert [p.key for p in owed_periods(asked, date(2026, 4, 8)) if p] == ["2026-Q1", "2026-Q2"]


def test_owed_periods_stop_at_the_end_and_once_is_one_filing() -> None:
    rule = DueRule(
        DuePeriod.month, days_after=3, starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 15)
    )
    keys = [p.key for p in owed_periods(rule, date(2026, 6, 1)) if p]
    # From the month it began (December 2025's report, due on 6 January, only if asked for).
    assert keys == ["2026-01", "2026-02", "2026-03"]
    assert owed_periods(DueRule(DuePeriod.once, due_on=date(2026, 4, 20)), date(2026, 1, 1)) == [
        None
    ]


def test_rule_problems() -> None:
    assert DueRule(DuePeriod.once).problem() is not None
    assert DueRule(DuePeriod.quarter, days_after=-1).problem() is not None
    assert DueRule(DuePeriod.quarter, days_after=5).problem() is None


NOW = datetime(2026, 4, 7, 2, tzinfo=UTC)
DUE = datetime(2026, 4, 8, 16, tzinfo=UTC)


def test_three_review_rounds_then_accepted() -> None:
    status = SubmissionStatus(SubmissionState.due, DUE)
    assert current_due(status) == DUE
    for round_number in (1, 2, 3):
        filed = file_round(status, NOW + timedelta(days=round_number))
        assert isinstance(filed, SubmissionStatus)
        assert filed.rounds == round_number
        assert file_round(filed, NOW) is SubmissionProblem.under_review
        if round_number < 3:
            status = review(
                filed,
                ReviewDecision.returned,
                "请补充整改措施",
                NOW,
                version=filed.version,
                resubmit_due_at=DUE + timedelta(days=7),
            )
            assert isinstance(status, SubmissionStatus)
            assert status.state is SubmissionState.returned
            assert current_due(status) == DUE + timedelta(days=7)
    accepted = review(
        filed, ReviewDecision.accepted, None, NOW, version=filed.version, resubmit_due_at=DUE
    )
    assert isinstance(accepted, SubmissionStatus)
    assert accepted.state is SubmissionState.accepted
    assert current_due(accepted) is None
    assert file_round(accepted, NOW) is SubmissionProblem.accepted
    # The first filing (a day before the due day) judges on-time, not the third round.
    assert filed_on_time(accepted) is True


def test_review_refusals() -> None:
    due = SubmissionStatus(SubmissionState.due, DUE)
    assert (
        review(due, ReviewDecision.accepted, None, NOW, version=1, resubmit_due_at=DUE)
        is SubmissionProblem.not_submitted
    )
    filed = file_round(due, NOW)
    assert isinstance(filed, SubmissionStatus)
    assert (
        review(
            filed, ReviewDecision.returned, "  ", NOW, version=filed.version, resubmit_due_at=DUE
        )
        is SubmissionProblem.comment_required
    )
    assert (
        review(filed, ReviewDecision.accepted, None, NOW, version=1, resubmit_due_at=DUE)
        is SubmissionProblem.stale
    )


def test_late_filing_is_late() -> None:
    filed = file_round(SubmissionStatus(SubmissionState.due, DUE), DUE + timedelta(seconds=1))
    assert isinstance(filed, SubmissionStatus)
    assert filed_on_time(filed) is False
    assert filed_on_time(SubmissionStatus(SubmissionState.due, DUE)) is None
