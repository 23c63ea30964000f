from __future__ import annotations

import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.runtime.i18n import LOCALE_DIR, gettext_for, normalize_language

PLACEHOLDER = re.compile(r"\{[^{}]*\}")
TAG = re.compile(r"</?\w+>")


def _catalog(language: str):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / language / "LC_MESSAGES" / "zhengfeng.po").open("rb") as fh:
        return read_po(fh)


def _template_ids() -> set[str]:
    with (LOCALE_DIR / "zhengfeng.pot").open("rb") as fh:
        return {m.id for m in read_po(fh) if m.id}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh_CN"),
        ("zh-CN", "zh_CN"),
        ("zh", "zh_CN"),
        ("zh-hant", "zh_CN"),
        ("en", "en"),
        ("en-US", "en"),
        ("fr", "zh_CN"),
        (None, "zh_CN"),
        ("", "zh_CN"),
    ],
)
def test_telegram_language_codes_map_onto_catalogs(code: str | None, expected: str) -> None:
    assert normalize_language(code) == expected


def test_every_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    catalog = _catalog("zh_CN")
    ids = {m.id for m in catalog if m.id}
    assert _template_ids() <= ids, "run `make i18n` after adding messages"
    for message in catalog:
        if not message.id:
            continue
        assert message.string, f"untranslated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        assert sorted(PLACEHOLDER.findall(message.id)) == sorted(
            PLACEHOLDER.findall(message.string)
        ), message.id
        assert sorted(TAG.findall(message.id)) == sorted(TAG.findall(message.string)), message.id


def test_template_is_current() -> None:
    """Every string the code marks for translation is in the template (catches a missed extract)."""
    root = LOCALE_DIR.parent.parent
    fresh: set[str] = set()
    for folder in ("bot", "handlers", "scheduler", "db"):
        for _name, _line, message, _comments, _context in extract_from_dir(
            root / folder, keywords={"_": None, "N_": None}
        ):
            fresh.add(message if isinstance(message, str) else message[0])
    assert fresh == _template_ids(), "run `make i18n`"


def test_chinese_is_the_default_and_english_the_identity() -> None:
    assert gettext_for("zh_CN")("Submit") != "Submit"
    assert gettext_for("en")("Submit") == "Submit"
    assert gettext_for("xx")("Submit") == gettext_for("zh_CN")("Submit")


def test_every_report_state_has_a_label() -> None:
    from bot.runtime.render import STATE_LABELS
    from db.models import ReportState

    assert set(STATE_LABELS) == set(ReportState)
