"""Dates as people type them, in the forms Chinese offices write: `2026-12-31`, `2026/12/31`,
`2026.12.31`, `2026年12月31日`, full-width digits, and `12月31日` / `12月31号` / `12/31` (this
year), read in the campaign's local calendar.

One reader serves every typed date (a self-check's 整改期限, a ledger item's due day, a duty's
fixed due date), so a form accepted in one flow is accepted in all of them.

A past date is refused rather than quietly moved to next year: a rectification deadline that
already passed is almost always a typo, and guessing which year was meant would hide it.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

MAX_YEARS_AHEAD = 5
"""Further than any rectification the seeds plan; a typo like 2062 is refused."""

_WIDE = str.maketrans("０１２３４５６７８９／－．", "0123456789/-.")
_FULL = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*[日号]?$")
_SHORT = re.compile(r"^(\d{1,2})\s*(?:月|[-/.])\s*(\d{1,2})\s*[日号]?$")


class DateProblem(StrEnum):
    unreadable = "unreadable"
    past = "past"
    too_far = "too_far"


def read_date(text: str, year: int | None) -> date | None:
    """The day `text` names, or None; a day typed without its year falls in `year`, and cannot
    be read when there is none to assume (a duty's fixed due date must say its year)."""
    cleaned = text.strip().translate(_WIDE)
    full = _FULL.match(cleaned)
    short = _SHORT.match(cleaned) if full is None and year is not None else None
    try:
        if full is not None:
            return date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        if short is not None and year is not None:
            return date(year, int(short.group(1)), int(short.group(2)))
    except ValueError:
        return None
    return None


def parse_due_date(text: str, today: date) -> date | DateProblem:
    """The local day a typed due date names, or why it cannot be one; today counts as not past
    (due at the end of the day)."""
    day = read_date(text, today.year)
    if day is None:
        return DateProblem.unreadable
    if day < today:
        return DateProblem.past
    if day.year > today.year + MAX_YEARS_AHEAD:
        return DateProblem.too_far
    return day
