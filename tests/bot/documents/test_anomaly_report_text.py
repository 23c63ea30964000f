"""The anomaly report's text: one Telegram message however many flags, saying what it leaves out."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from bot.documents.anomaly_report import anomaly_text, month_title
from bot.runtime.i18n import gettext_for
from db.anomalies.load import Findings
from db.anomalies.rules import ExtremeMarks, ItemKind

TZ = ZoneInfo("Asia/Shanghai")
TELEGRAM_MAX = 4096


def findings(flags: int, items: int = 40) -> Findings:
    return Findings(
        flags=[
            ExtremeMarks(
                account=n,
                kind=ItemKind.rating,
                items=tuple(range(10_000 * n, 10_000 * n + items)),
                mark=1,
                top=False,
            )
            for n in range(1, flags + 1)
        ],
        counted=flags * items,
        accounts={n: 800_000_000 + n for n in range(1, flags + 1)},
        units={},
    )


def test_many_flags_are_cut_to_one_message_with_the_rest_counted() -> None:
    for language, more in (("zh_CN", "另有"), ("en", "more flags")):
        _ = gettext_for(language)
        text = anomaly_text(month_title(date(2026, 3, 1), _), findings(60), ItemKind.rating, _, TZ)
        assert len(text) <= TELEGRAM_MAX
        assert more in text.splitlines()[-1]
        shown = text.count("ID 8000000")
        left = int("".join(c for c in text.splitlines()[-1] if c.isdigit()))
        assert shown + left == 60


def test_a_long_id_list_says_how_many_in_all() -> None:
    _ = gettext_for("en")
    text = anomaly_text("title", findings(1, items=45), ItemKind.rating, _, TZ)
    assert "(45 in all)" in text and ", 10029 …" in text and "10030" not in text
    assert "“unsatisfied”, 45 service ratings" in text


def test_nothing_found_is_said_briefly() -> None:
    _ = gettext_for("zh_CN")
    text = anomaly_text("标题", findings(0), ItemKind.ballot, _, TZ)
    assert text == "标题\n共检查评分 0 份。\n未发现异常情况。"
