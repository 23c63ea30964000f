"""Duties and submissions as plain rules: periods, due days and review rounds, testable without a
database or Telegram.

Due days count working days on the Chinese calendar in the campaign time zone: "5 working days
after each quarter" (seed 004) is the 5th working day strictly after the quarter's last day, so a
quarter ending on a holiday, or 调休 make-up Saturdays after it, move the due day the way an
office clerk would count. A due day ends at local midnight (`db.calendar.workdays.end_of_day`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from db.calendar.workdays import WorkCalendar, end_of_day, working_day_after
from db.models import DuePeriod, ReviewDecision, SubmissionState

ONCE = "once"


@dataclass(frozen=True, order=True)
class Period:
    """One period a duty falls due for; `key` is what `Submission.period` stores."""

    start: date
    end: date
    """Inclusive."""
    key: str


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def period_of(kind: DuePeriod, day: date) -> Period:
    """The period of `kind` that contains `day`."""
    if kind is DuePeriod.month:
        start = date(day.year, day.month, 1)
        return Period(start, _month_end(day.year, day.month), f"{day.year}-{day.month:02d}")
    if kind is DuePeriod.quarter:
        quarter = (day.month - 1) // 3 + 1
        start = date(day.year, 3 * quarter - 2, 1)
        return Period(start, _month_end(day.year, 3 * quarter), f"{day.year}-Q{quarter}")
    if kind is DuePeriod.half_year:
        half = 1 if day.month <= 6 else 2
        start = date(day.year, 1 if half == 1 else 7, 1)
        return Period(start, _month_end(day.year, 6 * half), f"{day.year}-H{half}")
    raise ValueError(f"{kind} has no periods")


def parse_period(key: str) -> Period | None:
    """The period a stored key names; None for `once` and for anything malformed."""
    try:
        year_text, rest = key.split("-", 1)
        year = int(year_text)
        if rest.startswith("Q"):
            return period_of(DuePeriod.quarter, date(year, 3 * int(rest[1:]) - 2, 1))
        if rest.startswith("H"):
            return period_of(DuePeriod.half_year, date(year, 6 * int(rest[1:]) - 5, 1))
        return period_of(DuePeriod.month, date(year, int(rest), 1))
    except (ValueError, IndexError):
        return None


@dataclass(frozen=True)
class DueRule:
    """When a duty falls due; `db.models.Obligation` holds the same fields."""

    period: DuePeriod
    due_on: date | None = None
    days_after: int = 0
    starts_on: date | None = None
    ends_on: date | None = None

    def problem(self) -> str | None:
        """Why the rule cannot be used, in words for the log and the tests (None when fine)."""
        if self.period is DuePeriod.once:
            return None if self.due_on is not None else "a once duty needs its due day"
        if self.days_after < 0 or self.days_after > 60:
            return "days after a period must be 0 to 60 working days"
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            return "the duty ends before it starts"
        return None


def due_day(rule: DueRule, period: Period | None, calendar: WorkCalendar) -> date:
    """The local due day of one period (or of a `once` duty, `period` None)."""
    if rule.period is DuePeriod.once:
        if rule.due_on is None:
            raise ValueError("a once duty needs its due day")
        return rule.due_on
    if period is None:
        raise ValueError(f"a {rule.period} duty needs a period")
    return working_day_after(period.end, rule.days_after, calendar)


def due_time(day: date, tz: ZoneInfo) -> datetime:
    return end_of_day(day, tz)


def owed_periods(rule: DueRule, today: date) -> list[Period | None]:
    """The periods already opened by `today` that the duty asks for (None stands for the single
    filing of a `once` duty).

    A period is owed once it has begun, from the period that holds `starts_on` (the day the
    duty was created, unless the office named an earlier one) and if it begins no later than
    `ends_on`. A quarterly report created on 5 October asks for the fourth quarter only, even
    though the third quarter's report is due a week later: opening both sent every liaison two
    notices at once for a duty they had just heard of, and whether the quarter just ended is
    owed is the office's call (`起始：2026-Q3`). Only the last 12 periods are looked at, so an
    old duty stays cheap.
    """
    if rule.period is DuePeriod.once:
        return [None]
    first = period_of(rule.period, rule.starts_on) if rule.starts_on is not None else None
    periods: list[Period | None] = []
    current = period_of(rule.period, today)
    for _ in range(12):
        if rule.ends_on is not None and current.start > rule.ends_on:
            pass
        elif first is not None and current.start < first.start:
            break
        else:
            periods.append(current)
        current = period_of(rule.period, current.start - timedelta(days=1))
    periods.reverse()
    return periods


def period_key(period: Period | None) -> str:
    return ONCE if period is None else period.key


# --- review rounds -------------------------------------------------------------------------


class SubmissionProblem(StrEnum):
    """Why a filing or a review was refused; handlers word each one."""

    accepted = "accepted"
    """Already accepted: nothing more to file."""
    under_review = "under_review"
    """Filed and waiting for the office; it can be filed again only after a return."""
    not_submitted = "not_submitted"
    """Nothing to review."""
    comment_required = "comment_required"
    """A return must say what to change."""
    stale = "stale"
    """The button was pressed on an older version of the submission."""


@dataclass(frozen=True)
class SubmissionStatus:
    """The parts of a `Submission` the rules read and write."""

    state: SubmissionState
    due_at: datetime
    rounds: int = 0
    first_submitted_at: datetime | None = None
    submitted_at: datetime | None = None
    resubmit_due_at: datetime | None = None
    accepted_at: datetime | None = None
    version: int = 1


def file_round(status: SubmissionStatus, now: datetime) -> SubmissionStatus | SubmissionProblem:
    """A liaison files (again): allowed while owed or returned, never after acceptance."""
    if status.state is SubmissionState.accepted:
        return SubmissionProblem.accepted
    if status.state is SubmissionState.submitted:
        return SubmissionProblem.under_review
    return replace(
        status,
        state=SubmissionState.submitted,
        rounds=status.rounds + 1,
        first_submitted_at=status.first_submitted_at or now,
        submitted_at=now,
        resubmit_due_at=None,
        version=status.version + 1,
    )


def review(
    status: SubmissionStatus,
    decision: ReviewDecision,
    comment: str | None,
    now: datetime,
    *,
    version: int,
    resubmit_due_at: datetime,
) -> SubmissionStatus | SubmissionProblem:
    """The office accepts the last round or returns it with comments for another round."""
    if version != status.version:
        return SubmissionProblem.stale
    if status.state is not SubmissionState.submitted:
        return SubmissionProblem.not_submitted
    if decision is ReviewDecision.accepted:
        return replace(
            status, state=SubmissionState.accepted, accepted_at=now, version=status.version + 1
        )
    if not (comment or "").strip():
        return SubmissionProblem.comment_required
    return replace(
        status,
        state=SubmissionState.returned,
        resubmit_due_at=resubmit_due_at,
        version=status.version + 1,
    )


def current_due(status: SubmissionStatus) -> datetime | None:
    """The due time the liaison works against now: the return's, else the period's; None when
    nothing is owed."""
    if status.state is SubmissionState.returned:
        return status.resubmit_due_at or status.due_at
    if status.state is SubmissionState.due:
        return status.due_at
    return None


def filed_on_time(status: SubmissionStatus) -> bool | None:
    """On time is judged by the first filing; None while nothing was filed."""
    if status.first_submitted_at is None:
        return None
    return status.first_submitted_at <= status.due_at
