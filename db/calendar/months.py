"""Months as the office counts them: local calendar months in the campaign time zone.

The digest, the exports and `/cases month=` all ask "which reports belong to March?"; one
definition of a month's bounds keeps their answers the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from db.calendar.workdays import local_date

_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


def parse_month(text: str) -> date:
    """``YYYY-MM`` as the first day of that month; ValueError with a readable reason."""
    match = _MONTH.match(text)
    if match is None:
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year < 2000:
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    return date(year, month, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def month_before(month: date) -> date:
    """The first day of the month before `month`'s."""
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def previous_month(now: datetime, tz: ZoneInfo) -> date:
    """The month before `now`'s local month: what the job on the 1st working day reports."""
    return month_before(local_date(now, tz))


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local month as a UTC half-open interval: local midnights, so a report at 23:30 on
    the last day belongs to the month and one at 00:30 on the 1st of the next does not."""
    if month.day != 1:
        raise ValueError("a month is given by its first day")
    start = datetime.combine(month, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(_next_month(month), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class MonthSpan:
    """A month as the report rows read it: its UTC bounds and the moment it is judged at.
    A `Digest` carries the same three, so either can be passed where a span is wanted."""

    start: datetime
    end: datetime
    now: datetime


def month_span(month: date, now: datetime, tz: ZoneInfo) -> MonthSpan:
    start, end = month_bounds(month, tz)
    return MonthSpan(start, end, now)
