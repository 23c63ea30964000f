"""Local months: the bounds every monthly figure and export counts in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from db.calendar.months import month_bounds, parse_month, previous_month
from tests.db.cases.test_case_metrics import END, START

MARCH = date(2026, 3, 1)


def test_month_boundaries_are_local() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    assert month_bounds(MARCH, shanghai) == (START, END)
    assert month_bounds(date(2026, 12, 1), shanghai)[1] == datetime(2026, 12, 31, 16, tzinfo=UTC)
    with pytest.raises(ValueError):
        month_bounds(date(2026, 3, 2), shanghai)
    assert parse_month("2026-03") == MARCH
    assert parse_month(" 2026-3 ") == MARCH
    for bad in ("2026-13", "2026-00", "March", "2026/03", "", "26-03"):
        with pytest.raises(ValueError):
            parse_month(bad)
    # 07:30 on 1 April in Shanghai is still 31 March in UTC: the previous month is March.
    assert previous_month(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), shanghai) == MARCH
    assert previous_month(datetime(2026, 1, 5, tzinfo=UTC), shanghai) == date(2025, 12, 1)
