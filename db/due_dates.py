"""Due dates typed by a person (a self-check's 整改期限): the forms Chinese offices write.

`2026-12-31`, `2026/12/31`, `2026.12.31`, `2026年12月31日` and `12月31日` (this year). A date
before today is refused rather than moved to next year: a clerk who typed a past day made a
mistake, and guessing which year they meant would hide it.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

MAX_YEARS_AHEAD = 5
"""Further than any rectification the seeds plan; a typo like 2062 is refused."""

_FULL = re.compile(r"^(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})\s*[日号]?$")
_SHORT = re.compile(r"^(\d{1,2})\s*(?:月|[-/.])\s*(\d{1,2})\s*[日号]?$")


class DateProblem(StrEnum):
    unreadable = "unreadable"
    past = "past"
    too_far = "too_far"


def parse_due_date(text: str, today: date) -> date | DateProblem:
    """The local day a typed due date names, or why it cannot be one."""
    cleaned = text.strip().translate(str.maketrans("０１２３４５６７８９／－．", "0123456789/-."))
    full = _FULL.match(cleaned)
    short = _SHORT.match(cleaned) if full is None else None
    try:
        if full is not None:
            day = date(int(full.group(1)), int(full.group(2)), int(full.group(3)))
        elif short is not None:
            day = date(today.year, int(short.group(1)), int(short.group(2)))
        else:
            return DateProblem.unreadable
    except ValueError:
        return DateProblem.unreadable
    if day < today:
        return DateProblem.past
    if day.year > today.year + MAX_YEARS_AHEAD:
        return DateProblem.too_far
    return day
