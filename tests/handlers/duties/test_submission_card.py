"""`/submission` and the return notice for submissions filed through the bot's own flows: the
answers read as the liaison gave them, in the reader's words, never as stored fields."""

from __future__ import annotations

from datetime import date

from bot.runtime.render import button_label
from db.cases.categories import active_categories
from db.duties.rules import DueRule
from db.models import DuePeriod, ObligationKind
from tests.handlers.cases.test_casework import ADMIN, LIAISON, case_bot, join_liaison
from tests.handlers.duties.test_duty_filing import EN, Q1, QUARTERLY, QUESTIONS, ZH, _db, add_duty
from tests.harness import Harness

__all__ = ["case_bot"]


async def test_a_filed_report_reads_as_questions_and_answers(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await bot.say(ADMIN, "/start")
    ids = await add_duty(bot, ObligationKind.quarterly, "季度工作报告", QUARTERLY, QUESTIONS)
    await bot.say(LIAISON, "/duties")
    await bot.press(
        LIAISON,
        button_label(ZH("File: {title} ({period})").format(title="季度工作报告", period=Q1)),
    )
    await bot.say(LIAISON, "开展窗口作风整治")
    await bot.say(LIAISON, "发现两处推诿问题")
    await bot.press(LIAISON, ZH("Skip"))
    await bot.press(LIAISON, ZH("Done"))
    await bot.press(LIAISON, ZH("File"))

    card = (await bot.say(ADMIN, f"/submission {ids['D011']}"))[-1]["text"]
    assert (
        EN("Q: {question}\nA: {answer}").format(question=QUESTIONS[0], answer="开展窗口作风整治")
        in card
    )
    assert "question:" not in card and "answer:" not in card

    await bot.press(ADMIN, EN("Return"))
    await bot.say(ADMIN, "请补充数据")
    notice = bot.api.last_message(LIAISON.id)["text"]
    assert "请补充数据" in notice
    assert Q1 in notice and "2026-Q1" not in notice


async def test_a_filed_self_check_reads_as_findings_by_category(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    once = DueRule(DuePeriod.once, due_on=date(2026, 3, 31))
    ids = await add_duty(bot, ObligationKind.self_check, "自查自纠", once)
    engine, sessions = await _db(bot)
    async with sessions() as session:
        categories = await active_categories(session)
    await engine.dispose()
    await bot.say(LIAISON, "/duties")
    await bot.press(
        LIAISON,
        button_label(ZH("File: {title} ({period})").format(title="自查自纠", period=ZH("one-off"))),
    )
    await bot.press(LIAISON, ZH("Problems found"))
    # The pressed question becomes the answer, punctuated as Chinese.
    pressed = f"{categories[0].name_zh}：{ZH('Problems found')}"
    assert any(m["text"].startswith(pressed) for m in bot.api.sent_messages(LIAISON.id))
    await bot.say(LIAISON, "窗口人员<推诿>")
    await bot.say(LIAISON, "约谈")
    await bot.say(LIAISON, "张科长")
    await bot.say(LIAISON, "2026-12-31")
    for _category in categories[1:]:
        await bot.press(LIAISON, ZH("None found"))
    await bot.press(LIAISON, ZH("File"))

    card = (await bot.say(ADMIN, f"/submission {ids['D011']}"))[-1]["text"]
    assert (
        EN("⚠ {category}: {description}").format(
            category=categories[0].name_en, description="窗口人员<推诿>"
        )
        in card
    )
    assert (
        EN("Measure: {measure}; responsible: {owner}; due {due}").format(
            measure="约谈", owner="张科长", due="2026-12-31"
        )
        in card
    )
    assert EN("✓ {category}: none found").format(category=categories[1].name_en) in card
    assert "category_id" not in card and "found:" not in card
