"""Liaisons through the bot: the assignment notice, signing, returning and answering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.models import ReportState
from tests.handlers.cases.test_inbox import card_of, open_card, stored
from tests.handlers.cases.test_report_flow import fill_until_identity
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, html_sent, make_settings, prepare_database, texts

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
ADMIN = FakeUser(900, "Admin", language_code="en")
LIAISON = FakeUser(901, "小李", language_code="zh-hans")
OTHER = FakeUser(902, "Other", language_code="en")
CITIZEN = FakeUser(
    7654321, "Zhuangsan", last_name="Zhanglast", username="zhuangsan_secret", language_code="en"
)
NAMED = FakeUser(7654322, "Wangwu", last_name="Lastsecret", language_code="en")


@pytest.fixture
async def case_bot(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def join_liaison(bot: Harness) -> None:
    answer = texts(await bot.say(ADMIN, "/invite liaison D011"))
    match = LINK.search(answer)
    assert match, answer
    await bot.say(LIAISON, f"/start {match.group(1)}")


async def file_anonymous(bot: Harness) -> None:
    await fill_until_identity(bot, CITIZEN)
    await bot.press(CITIZEN, EN("Anonymous"))
    await bot.press(CITIZEN, EN("Submit"))


async def assign(bot: Harness, number: str) -> None:
    await open_card(bot, number)
    card = card_of(bot, number)
    [data] = [
        d
        for row in bot.api.buttons(card)
        for t, d in row
        if t == EN("Assign to {unit}").format(unit="市公安局")
    ]
    await bot.press_data(ADMIN, str(data), card)


async def test_sign_and_reply_keep_the_reporter_anonymous(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await file_anonymous(bot)
    await assign(bot, "ZF2026-000001")

    notice = html_sent(bot.api, LIAISON.id)
    assert "ZF2026-000001" in notice and "推诿扯皮" in notice
    for secret in (str(CITIZEN.id), "Zhuangsan", "Zhanglast", "zhuangsan_secret"):
        assert secret not in notice

    # A user without the role forging a sign button is refused; nothing changes.
    reports, _units, _events = await stored(bot)
    report = reports["ZF2026-000001"]
    await bot.say(OTHER, "/start")
    await bot.press_data(OTHER, cb.CASE_SIGN.pack(report.id or 0))
    assert "may not do this" in bot.last_answer()["text"]
    await bot.press_data(OTHER, "cs:abc")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    reports, _units, _events = await stored(bot)
    assert reports["ZF2026-000001"].state is ReportState.assigned
    assert reports["ZF2026-000001"].version == report.version

    signed = await bot.press(LIAISON, ZH("Sign"))
    assert "ZF2026-000001" in texts(signed)
    reports, _units, _events = await stored(bot)
    report = reports["ZF2026-000001"]
    assert report.state is ReportState.signed
    assert report.due_kind == "reply" and report.due_at is not None

    await bot.press_data(LIAISON, cb.CASE_SIGN.pack(report.id or 0))
    assert "ZF2026-000001" in bot.last_answer()["text"]
    reports, _units, _events = await stored(bot)
    assert reports["ZF2026-000001"].version == report.version

    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "   ")
    done = await bot.say(LIAISON, "已核实并整改，<窗口>人员已批评教育")
    assert "ZF2026-000001" in texts(done)
    reports, _units, _events = await stored(bot)
    assert reports["ZF2026-000001"].state is ReportState.replied
    got = html_sent(bot.api, CITIZEN.id)
    assert "已核实并整改，&lt;窗口&gt;人员已批评教育" in got

    liaison_html = html_sent(bot.api, LIAISON.id)
    for secret in (str(CITIZEN.id), "Zhuangsan", "Zhanglast", "zhuangsan_secret"):
        assert secret not in liaison_html


async def test_real_name_notice_and_return(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await fill_until_identity(bot, NAMED)
    await bot.press(NAMED, EN("Real name"))
    await bot.say(NAMED, "王五")
    await bot.say(NAMED, "138 0013 8000")
    await bot.press(NAMED, EN("Submit"))
    await assign(bot, "ZF2026-000001")

    notice = html_sent(bot.api, LIAISON.id)
    assert "王五" in notice and "+8613800138000" in notice
    for secret in (str(NAMED.id), "Wangwu", "Lastsecret"):
        assert secret not in notice

    await bot.press(LIAISON, ZH("Return"))
    await bot.say(LIAISON, "不属于本单位职责，应由区政务服务中心办理")
    reports, _units, _events = await stored(bot)
    assert reports["ZF2026-000001"].state is ReportState.returned
    assert "ZF2026-000001" in texts(await bot.say(ADMIN, "/inbox"))
