"""Issue 14 end to end, as the office would try it, in Chinese: evaluators invited into a group,
a round of five units, one ballot changed, rigged identical ballots flagged and one excluded,
posters of two windows scanned and rated, the quarterly bulletin with its chart and workbook,
and the published quarter on the public page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlmodel import SQLModel, select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.i18n import gettext_for
from bot.runtime.render import button_label
from bot.runtime.settings import TelegramSettings
from bot.web import public_app
from db.engine import create_engine, session_factory
from db.models import Ballot, Department, RatingLink, RoundResult, ServiceRating
from tests.harness import Harness, make_settings, prepare_database, texts

T = TypeVar("T", bound=SQLModel)
ZH = gettext_for("zh_CN")
ADMIN = FakeUser(990, "作风办", language_code="zh-hans")
RIGGED = [FakeUser(991 + n, f"评议代表{n}", language_code="zh-hans") for n in range(3)]
HONEST = FakeUser(995, "评议代表丁", language_code="zh-hans")
CITIZENS = [FakeUser(1001 + n, f"群众{n}", language_code="zh-hans") for n in range(3)]
UNITS = ("D001", "D010", "D011", "D002", "W002")
FORM = """/round
标题：2026年第1季度百家企业评政风
期间：2026年第1季度
评议组：QY
单位：D001 D010 D011 D002 W002
评议项目：服务态度 总体满意
截止：2026-03-20"""
APRIL_FIRST = datetime(2026, 4, 1, 2, tzinfo=UTC)


@pytest.fixture
async def office(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def _rows(bot: Harness, model: type[T]) -> list[T]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = list((await session.exec(select(model))).all())
    await engine.dispose()
    return found


async def _join(bot: Harness, user: FakeUser) -> None:
    answer = texts(await bot.say(ADMIN, "/invite evaluator QY"))
    token = answer.split("?start=")[1].split()[0].rstrip("。.")
    assert "企业代表" in texts(await bot.say(user, f"/start {token}"))


async def _rate_all(bot: Harness, user: FakeUser, names: list[str], marks: list[str]) -> str:
    await bot.press(user, ZH("Start rating"))
    await bot.press(user, ZH("Rate next: {unit}").format(unit=button_label(names[0])))
    answer = ""
    for mark in marks:
        for _dimension in range(2):
            await bot.press(user, mark)
        answer = texts(await bot.press(user, ZH("Skip")))
    return answer


def _files(bot: Harness, chat_id: int, method: str) -> int:
    return sum(
        1 for c in bot.api.calls if c.method == method and c.params.get("chat_id") == chat_id
    )


async def test_a_quarter_of_appraisal_from_invites_to_the_public_page(office: Harness) -> None:
    bot = office
    await bot.say(ADMIN, "/start")
    for user in (*RIGGED, HONEST):
        await _join(bot, user)
    units = {d.code: d for d in await _rows(bot, Department)}
    names = [units[code].name for code in UNITS]
    ids = {code: units[code].id for code in (*UNITS, "W001")}
    opened = texts(await bot.say(ADMIN, FORM))
    assert "第 1 号评议已发起" in opened and "2026-Q1" in opened

    # Three evaluators give every unit the top marks, identically; one rates honestly and then
    # changes their ballot of 市发改委 from 2/2 to 3/3.
    for user in RIGGED:
        await _rate_all(bot, user, names, ["5"] * 5)
    await _rate_all(bot, HONEST, names, ["2", "4", "3", "4", "3"])
    await bot.say(HONEST, "/rate_round")
    await bot.press(HONEST, f"✓ {button_label(names[0])}")
    for _dimension in range(2):
        await bot.press(HONEST, "3")
    await bot.press(HONEST, ZH("Skip"))
    ballots = await _rows(bot, Ballot)
    assert len(ballots) == 4 * 5, "one ballot per evaluator and unit, the change in place"

    closed = texts(await bot.say(ADMIN, "/round close 1"))
    assert "市发改委" in closed
    results = {r.department_id: r for r in await _rows(bot, RoundResult)}
    # 市发改委: three 5/5 and one 3/3: means 4.5 and 4.5, 90 on 100.
    assert results[ids["D001"]].score == pytest.approx(90.0)

    report = texts(await bot.say(ADMIN, "/anomalies 1"))
    assert "评分雷同" in report and "3 名评议代表" in report
    rigged_ballot = next(
        b for b in ballots if b.department_id == ids["D001"] and b.scores == "[5, 5]"
    )
    excluded = texts(
        await bot.say(ADMIN, f"/exclude ballot {rigged_ballot.id} 与另两名代表评分雷同")
    )
    assert "90" in excluded
    results = {r.department_id: r for r in await _rows(bot, RoundResult)}
    # Without it: two 5/5 and one 3/3, means 13/3 each, 86.67 on 100.
    assert results[ids["D001"]].score == pytest.approx(86.67)

    # Posters of two windows, scanned and rated by three people.
    for code in ("W001", "W002"):
        await bot.say(ADMIN, f"/poster {code}")
    assert _files(bot, ADMIN.id, "sendDocument") == 4, "a PNG and a PDF per window"
    links = {link.department_id: link.public_token for link in await _rows(bot, RatingLink)}
    w002 = links[ids["W002"]]
    for citizen, value in zip(CITIZENS, ("满意", "满意", "基本满意"), strict=True):
        shown = texts(await bot.say(citizen, f"/start rate-{w002}"))
        assert "道里区行政服务中心" in shown
        await bot.press(citizen, value)
    assert len(await _rows(bot, ServiceRating)) == 3

    # The quarter ends; the office previews and publishes its bulletin.
    bot.clock.now = APRIL_FIRST
    preview = texts(await bot.say(ADMIN, "/bulletin 2026-Q1"))
    assert "2026年第1季度" in preview and "市发改委" in preview
    assert _files(bot, ADMIN.id, "sendPhoto") >= 1, "the chart"
    assert _files(bot, ADMIN.id, "sendDocument") >= 5, "the workbook"
    assert "2026-Q1" in texts(await bot.say(ADMIN, "/publish 2026-Q1"))

    settings = bot.settings.model_copy(
        update={"telegram": TelegramSettings(bot_username="zhengfeng_test_bot")}
    )
    app = public_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://public"
        ) as client,
    ):
        quarter = await client.get("/q/2026-Q1")
        assert quarter.status_code == 200 and "市发改委" in quarter.text
        window = await client.get("/unit/W002")
        assert window.status_code == 200 and 'class="qr"' in window.text
        for person in (*RIGGED, HONEST, *CITIZENS):
            assert person.first_name not in quarter.text + window.text
