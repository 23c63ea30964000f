"""Typed dates: every form an office writes, and the problems each flow words for the person."""

from __future__ import annotations

from datetime import date

import pytest

from db.calendar.date_input import DateProblem, parse_due_date, read_date

TODAY = date(2026, 3, 16)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-31", date(2026, 12, 31)),
        ("2026/12/31", date(2026, 12, 31)),
        ("2026.12.31", date(2026, 12, 31)),
        ("２０２６／１２／３１", date(2026, 12, 31)),
        ("2026年12月31日", date(2026, 12, 31)),
        ("12月31日", date(2026, 12, 31)),
        ("12月31号", date(2026, 12, 31)),
        ("12/31", date(2026, 12, 31)),
        ("2026-03-16", TODAY),
        ("3月16日", TODAY),
        ("2026.1.5", DateProblem.past),
        ("2026-03-15", DateProblem.past),
        ("3月15日", DateProblem.past),
        ("3月1日", DateProblem.past),
        ("2025-12-31", DateProblem.past),
        ("2040-01-01", DateProblem.too_far),
        ("", DateProblem.unreadable),
        ("明天", DateProblem.unreadable),
        ("下个月", DateProblem.unreadable),
        ("2026-02-30", DateProblem.unreadable),
        ("2026-13-01", DateProblem.unreadable),
        ("2月30日", DateProblem.unreadable),
        ("31/12/2026", DateProblem.unreadable),
        ("2026-12", DateProblem.unreadable),
    ],
)
def test_typed_due_dates(text: str, expected: date | DateProblem) -> None:
    assert parse_due_date(text, TODAY) == expected


def test_a_day_without_its_year_needs_one_to_assume() -> None:
    assert read_date("12月31日", 2027) == date(2027, 12, 31)
    assert read_date("12月31日", None) is None
    assert read_date(" 2026年4月20日 ", None) == date(2026, 4, 20)
