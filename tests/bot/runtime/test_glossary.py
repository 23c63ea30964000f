"""One vocabulary: no catalog message uses a word that bot/locale/GLOSSARY.md rules out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from babel.messages.pofile import read_po

from bot.runtime.i18n import LOCALE_DIR

GLOSSARY = LOCALE_DIR / "GLOSSARY.md"


@dataclass(frozen=True)
class Rule:
    thing: str
    word: str
    banned: re.Pattern[str]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def glossary_rules() -> tuple[list[Rule], list[Rule]]:
    """(Chinese rules, English rules) from the table's **Not** and **Not (en)** columns."""
    rows = [
        _cells(line)
        for line in GLOSSARY.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and not line.startswith("|---")
    ]
    header, body = rows[0], rows[1:]
    zh_col, en_col = header.index("Not"), header.index("Not (en)")
    zh: list[Rule] = []
    en: list[Rule] = []
    for row in body:
        for column, rules, flags in ((zh_col, zh, 0), (en_col, en, re.IGNORECASE)):
            for word in filter(None, (w.strip() for w in row[column].split(","))):
                pattern = rf"\b{word}\b" if word.isascii() else word
                rules.append(Rule(row[1], word, re.compile(pattern, flags)))
    return zh, en


def _messages(path_language: str | None) -> list[tuple[str, str]]:
    """(msgid, text to check): the zh_CN translations, or the English msgids from the template."""
    path = (
        LOCALE_DIR / "zhengfeng.pot"
        if path_language is None
        else LOCALE_DIR / path_language / "LC_MESSAGES" / "zhengfeng.po"
    )
    with path.open("rb") as fh:
        catalog = read_po(fh)
    found: list[tuple[str, str]] = []
    for message in catalog:
        if not message.id:
            continue
        ids = [str(i) for i in (message.id if isinstance(message.id, tuple) else (message.id,))]
        if path_language is None:
            found += [(ids[0], text) for text in ids]
        else:
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            found += [(ids[0], str(text)) for text in strings if text]
    return found


def violations(messages: list[tuple[str, str]], rules: list[Rule]) -> list[str]:
    return [
        f"{rule.word!r} (say {rule.thing!r}) in {msgid!r}: {text!r}"
        for msgid, text in messages
        for rule in rules
        if rule.banned.search(text)
    ]


def test_the_glossary_has_rules_for_both_languages() -> None:
    zh, en = glossary_rules()
    assert {r.word for r in zh} >= {"反映", "专项办", "反映内容"}
    assert "complaint" in {r.word for r in en}


def test_the_rules_catch_a_synonym_and_spare_the_exceptions() -> None:
    zh, en = glossary_rules()
    assert violations([("x", "反映 ZF2026-000001 已派单")], zh)
    assert violations([("x", "请联系专项办")], zh)
    assert violations([("x", "部门导入完成")], zh)
    assert not violations([("department", "部门")], zh), "the kind's own name"
    assert not violations([("x", "（部门/窗口/关键部位/项目/区县）")], zh)
    assert not violations([("x", "请完成自查自纠")], zh)
    assert violations([("x", "请核对自查情况")], zh)
    assert violations([("x", "File a complaint")], en)
    assert not violations([("x", "File a report")], en)
    assert violations([("x", "No department has the code")], en)
    assert not violations([("department", "department")], en), "the kind's own name"
    assert not violations([("x", "{role} of {department}")], en), "a placeholder"
    assert not violations([("x", "KIND is department, window or project")], en)


def test_every_chinese_message_uses_the_glossary_words() -> None:
    zh, _en = glossary_rules()
    assert violations(_messages("zh_CN"), zh) == []


def test_every_english_message_uses_the_glossary_words() -> None:
    _zh, en = glossary_rules()
    assert violations(_messages(None), en) == []
