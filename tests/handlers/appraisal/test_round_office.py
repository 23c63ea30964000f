"""/round through the bot: the form, who is asked, the list, the turnout and an early close."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel import SQLModel, select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.i18n import gettext_for
from db.appraisal.form import DEFAULT_DIMENSIONS
from db.engine import create_engine, session_factory
from db.models import (
    AppraisalRound,
    AuditEvent,
    Department,
    DepartmentKind,
    OutboxMessage,
    RoundGroup,
    RoundResult,
    RoundState,
    RoundUnit,
)
from tests.handlers.appraisal.test_groups_flow import join_group
from tests.handlers.people.test_roles_flow import ADMIN
from tests.harness import Harness, make_settings, prepare_database, texts

T = TypeVar("T", bound=SQLModel)
EN = gettext_for("en")
ZH = gettext_for("zh_CN")
BOSS = FakeUser(941, "企业家", language_code="zh-hans")
INVESTOR = FakeUser(942, "Investor", language_code="en")
DEPUTY = FakeUser(943, "代表", language_code="zh-hans")
FORM = """/round
标题：2026年第1季度百家企业评政风
期间：2026年第1季度
评议组：QY WS
单位：D001 D010 D011
截止：2026-03-20"""


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


async def rows(bot: Harness, model: type[T]) -> list[T]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = list((await session.exec(select(model))).all())
    await engine.dispose()
    return found


async def evaluators(bot: Harness) -> None:
    await bot.say(ADMIN, "/start")
    await join_group(bot, BOSS, "QY")
    await join_group(bot, INVESTOR, "WS")
    await join_group(bot, DEPUTY, "DB")


def _utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive UTC, PostgreSQL aware."""
    return moment.replace(tzinfo=UTC) if moment and moment.tzinfo is None else moment


async def test_a_round_asks_the_evaluators_of_its_groups(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    assert "标题" in texts(await bot.say(ADMIN, "/round"))
    opened = texts(await bot.say(ADMIN, FORM))
    assert "#1" in opened and "3 units" in opened and "2026-Q1" in opened
    assert "closes 2026-03-20 23:59" in opened
    assert "2 evaluators" in opened

    [round_] = await rows(bot, AppraisalRound)
    assert (round_.quarter, round_.scale_max, round_.state) == ("2026-Q1", 5, RoundState.open)
    assert json.loads(round_.dimensions) == list(DEFAULT_DIMENSIONS)
    assert len(await rows(bot, RoundGroup)) == 2
    units = sorted(await rows(bot, RoundUnit), key=lambda u: u.position)
    assert [u.position for u in units] == [0, 1, 2]

    asks = [r for r in await rows(bot, OutboxMessage) if r.dedupe_key.startswith("round:1:ask:")]
    assert len(asks) == 2 and all(r.sent_at is not None for r in asks)
    # A bot down until the close must not ask anybody to rate a closed round.
    assert all(_utc(r.expires_at) == _utc(round_.closes_at) for r in asks)
    boss_got = texts(bot.api.sent_messages(BOSS.id)[-1:])
    assert "2026年第1季度百家企业评政风" in boss_got
    assert bot.api.buttons(bot.api.sent_messages(BOSS.id)[-1])[0][0][0] == ZH("Start rating")
    assert bot.api.buttons(bot.api.sent_messages(INVESTOR.id)[-1])[0][0][0] == "Start rating"
    assert "评政风" not in texts(bot.api.sent_messages(DEPUTY.id))

    status = texts(await bot.say(ADMIN, "/round status 1"))
    assert "企业代表: 0 of 1 evaluators rated, 0 ballots, 0 units" in status
    assert "外商代表: 0 of 1 evaluators rated, 0 ballots, 0 units" in status
    assert "人大代表" not in status
    listed = texts(await bot.say(ADMIN, "/round list"))
    assert "#1 2026年第1季度百家企业评政风" in listed and "rating open" in listed

    [audit] = [e for e in await rows(bot, AuditEvent) if e.action == "round.create"]
    assert json.loads(audit.after or "{}")["units"] == ["D001", "D010", "D011"]


async def test_early_close_freezes_and_tells_the_admins(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, FORM)
    closed = texts(await bot.say(ADMIN, "/round close 1"))
    assert "closed" in closed
    [round_] = await rows(bot, AppraisalRound)
    assert round_.state is RoundState.closed and round_.closed_at is not None
    results = await rows(bot, RoundResult)
    assert len(results) == 3 and all(r.ballots == 0 and r.score is None for r in results)
    admin_got = texts(bot.api.sent_messages(ADMIN.id))
    assert "Appraisal round #1 closed" in admin_got and "市公安局: no ballots" in admin_got
    assert "closed already" in texts(await bot.say(ADMIN, "/round close 1"))
    keys = [r.dedupe_key for r in await rows(bot, OutboxMessage)]
    assert keys.count(f"round:1:results:{ADMIN.id}") == 1
    assert [e.action for e in await rows(bot, AuditEvent)].count("round.close") == 1


@pytest.mark.parametrize(
    ("change", "answer"),
    [
        (("截止：2026-03-20", "截止：2026-03-15"), "closing day must be today or later"),
        (("评议组：QY WS", "评议组：QY XX"), "No active evaluator group has the code or name XX"),
        (("单位：D001 D010 D011", "单位：D001 D999"), "No active unit has the code(s) D999"),
        (("单位：D001 D010 D011", "单位：类别 不存在"), "No active unit is in that scope"),
        (("截止：2026-03-20", "截止：明天"), "could not read the closing day"),
        (("期间：2026年第1季度\n", ""), "The form lacks 期间"),
    ],
)
async def test_bad_forms_change_nothing(
    office: Harness, change: tuple[str, str], answer: str
) -> None:
    bot = office
    assert answer in texts(await bot.say(ADMIN, FORM.replace(*change)))
    assert await rows(bot, AppraisalRound) == []


async def test_today_is_still_a_closing_day_and_class_scopes_work(office: Harness) -> None:
    bot = office
    text = FORM.replace("截止：2026-03-20", "截止：2026-03-16").replace(
        "单位：D001 D010 D011", "单位：类别 执法监督"
    )
    opened = texts(await bot.say(ADMIN, text))
    assert "Appraisal round #1 opened" in opened
    units = await rows(bot, RoundUnit)
    assert len(units) == 6


async def test_only_admins_open_rounds(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    for command in (FORM, "/round list", "/round close 1"):
        assert "only the campaign office" in texts(await bot.say(INVESTOR, command))
    assert await rows(bot, AppraisalRound) == []
    assert "No appraisal round has the number 7" in texts(await bot.say(ADMIN, "/round status 7"))
    assert "Please add the round's number" in texts(await bot.say(ADMIN, "/round close"))


async def test_units_are_named_by_code_in_any_case_and_huge_ids_name_no_round(
    office: Harness,
) -> None:
    """A unit imported as `w120` is put in a round typed as W120 (codes are kept as imported and
    matched regardless of case, as everywhere else); and an id past a row id's range names no
    round (on PostgreSQL its lookup overflowed and the admin got an error)."""
    bot = office
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        session.add(Department(code="w120", name="测试窗口", kind=DepartmentKind.department))
        await session.commit()
    await engine.dispose()
    opened = texts(await bot.say(ADMIN, FORM.replace("单位：D001 D010 D011", "单位：W120 d001")))
    assert "Appraisal round #1 opened" in opened
    assert len(await rows(bot, RoundUnit)) == 2
    for word in ("99999999999", "2147483648"):
        answer = texts(await bot.say(ADMIN, f"/round status {word}"))
        assert f"No appraisal round has the number {word}" in answer
