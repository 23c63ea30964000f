"""Checks on what a person types, as plain functions so every rule is testable without Telegram."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers


class TextProblem(StrEnum):
    empty = "empty"
    too_short = "too_short"
    too_long = "too_long"


def clean_text(text: str) -> str:
    """Normalise and drop control characters that would make stored text unreadable."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C").strip()


def check_length(text: str, min_chars: int, max_chars: int) -> TextProblem | None:
    if not text:
        return TextProblem.empty
    if len(text) < min_chars:
        return TextProblem.too_short
    if len(text) > max_chars:
        return TextProblem.too_long
    return None


@dataclass(frozen=True)
class Phone:
    e164: str


_DIGITS = re.compile(r"[\s\-()（）]")


def parse_phone(text: str, region: str = "CN") -> Phone | None:
    """Accept mobile and landline numbers written the way people write them; None if invalid."""
    candidate = _DIGITS.sub("", text.strip())
    if not candidate or len(candidate) > 20:
        return None
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return Phone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
