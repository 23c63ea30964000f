from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.validation import TextProblem, check_length, clean_text, parse_phone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "+8613800138000"),
        ("138 0013 8000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("0451-84661234", "+8645184661234"),
        ("（0451）84661234", "+8645184661234"),
    ],
)
def test_phone_numbers_people_write_are_accepted(text: str, expected: str) -> None:
    phone = parse_phone(text)
    assert phone is not None and phone.e164 == expected


@pytest.mark.parametrize("text", ["", "12345", "abc", "1380013800", "1" * 40, "<b>1</b>"])
def test_invalid_phone_numbers_are_refused(text: str) -> None:
    assert parse_phone(text) is None


def test_length_rules() -> None:
    assert check_length("", 10, 20) is TextProblem.empty
    assert check_length("短", 10, 20) is TextProblem.too_short
    assert check_length("字" * 21, 10, 20) is TextProblem.too_long
    assert check_length("字" * 10, 10, 20) is None


def test_clean_text_drops_control_characters_keeps_newlines() -> None:
    assert clean_text("  a\u0000b\nc\u200b  ") == "ab\nc"


@given(st.text())
def test_clean_text_is_idempotent(text: str) -> None:
    assert clean_text(clean_text(text)) == clean_text(text)
