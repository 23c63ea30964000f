"""Quarters as the bulletin counts them: `2026-Q4`, three local calendar months in the campaign
time zone (the same local midnights as `db.calendar.months`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from db.calendar.months import month_bounds
from db.calendar.workdays import local_date

_QUARTER = re.compile(r"^\s*(\d{4})-[Qq]([1-4])\s*$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int
    """1 to 4."""

    @property
    def key(self) -> str:
        """`2026-Q4`: what `QuarterBulletin.quarter` and `AppraisalRound.quarter` store."""
        return f"{self.year}-Q{self.number}"

    @property
    def months(self) -> tuple[date, date, date]:
        """The first day of each of its three months."""
        first = 3 * self.number - 2
        return (
            date(self.year, first, 1),
            date(self.year, first + 1, 1),
            date(self.year, first + 2, 1),
        )

    @property
    def first_day(self) -> date:
        return self.months[0]

    @property
    def last_day(self) -> date:
        return self.following().first_day - timedelta(days=1)

    def following(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The quarter as a UTC half-open interval between local midnights."""
        return month_bounds(self.first_day, tz)[0], month_bounds(self.following().first_day, tz)[0]


def parse_quarter(text: str) -> Quarter:
    """``YYYY-Qn`` (n 1 to 4); ValueError with a readable reason."""
    match = _QUARTER.match(text)
    if match is None or int(match.group(1)) < 2000:
        raise ValueError(f"not a quarter (YYYY-Qn): {text!r}")
    return Quarter(int(match.group(1)), int(match.group(2)))


def quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def last_finished_quarter(now: datetime, tz: ZoneInfo) -> Quarter:
    """The quarter before `now`'s local quarter: what the bulletin of this quarter reports."""
    return quarter_of(local_date(now, tz)).previous()
