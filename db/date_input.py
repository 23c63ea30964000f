"""Due dates as people type them: `2026-12-31`, `2026/12/31`, `2026.12.31`, `2026年12月31日`, or
`12月31日` (this year), read in the campaign's local calendar.

A past date is refused rather than quietly moved to next year: a rectification deadline that
already passed is almost always a typo, and the person should see it.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

_FULL = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
_MONTH_DAY = re.compile(r"^\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?\s*$")


class DateProblem(StrEnum):
    unreadable = "unreadable"
    past = "past"


def parse_due_date(text: str, today: date) -> date | DateProblem:
    """The day `text` names; today counts as not past (due at the end of the day)."""
    full = _FULL.match(text)
    month_day = _MONTH_DAY.match(text) if full is None else None
    try:
        if full is not None:
            day = date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        elif month_day is not None:
            day = date(today.year, int(month_day.group(1)), int(month_day.group(2)))
        else:
            return DateProblem.unreadable
    except ValueError:
        return DateProblem.unreadable
    return DateProblem.past if day < today else day
