"""Invites through the bot: an admin makes a link, a person opens it, nobody else can reuse it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import Invite
from tests.harness import Harness, html_sent, make_settings, prepare_database, texts

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
ADMIN = FakeUser(900, "Admin", language_code="en")
LIAISON = FakeUser(901, "小李", language_code="zh-hans")
OTHER = FakeUser(902, "Other", language_code="en")
LINK = re.compile(r"https://t\.me/zhengfeng_test_bot\?start=([A-Za-z0-9_-]{32})")


@pytest.fixture
async def admin_bot(tmp_path: Path) -> AsyncIterator[Harness]:
    """The bot with Telegram user 900 as a config admin, as the campaign office starts it."""
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def invites(harness: Harness) -> list[Invite]:
    engine = create_engine(harness.settings.database.url)
    async with session_factory(engine)() as session:
        rows = list((await session.exec(select(Invite))).all())
    await engine.dispose()
    return rows


async def make_link(bot: Harness, command: str) -> str:
    answer = texts(await bot.say(ADMIN, command))
    match = LINK.search(answer)
    assert match, answer
    return match.group(1)


async def test_admin_invites_a_liaison_who_joins_once(admin_bot: Harness) -> None:
    bot = admin_bot
    answer = texts(await bot.say(ADMIN, "/invite liaison D011"))
    assert "liaison" in answer and "市公安局" in answer
    assert "2026-03-23 10:30" in answer, "expiry in 7 days, shown in Shanghai time"
    token = LINK.search(answer).group(1)  # type: ignore[union-attr]
    stored = await invites(bot)
    assert len(stored) == 1 and token not in stored[0].token_hash

    joined = texts(await bot.say(LIAISON, f"/start {token}"))
    assert (
        ZH("Welcome! You are now {role} of {department}.").format(
            role=ZH("liaison"), department="市公安局"
        )
        in joined
    )
    mine = texts(await bot.say(LIAISON, "/whoami"))
    assert "市公安局的联络员" in mine

    refused = texts(await bot.say(OTHER, f"/start {token}"))
    assert refused == EN(
        "This invite link has already been used; each link works only once. Please ask the "
        "campaign office for a new one."
    )
    assert EN("You have no roles; you can file reports with /report.") in texts(
        await bot.say(OTHER, "/whoami")
    )
    assert "admin (from the configuration)" in texts(await bot.say(ADMIN, "/whoami"))


async def test_chinese_role_words_and_plain_start_still_welcome(admin_bot: Harness) -> None:
    bot = admin_bot
    token = await make_link(bot, "/invite 负责人 d011")
    assert "leader" in html_sent(bot.api, ADMIN.id)
    welcome = texts(await bot.say(OTHER, "/start"))
    assert "Welcome to Zhengfeng" in welcome
    joined = texts(await bot.say(OTHER, f"/start {token}"))
    assert joined == "Welcome! You are now leader of 市公安局."


async def test_non_admin_cannot_invite(admin_bot: Harness) -> None:
    answer = texts(await admin_bot.say(OTHER, "/invite admin"))
    assert "only the campaign office" in answer
    assert await invites(admin_bot) == []


async def test_bad_role_and_unknown_department_get_clear_answers(admin_bot: Harness) -> None:
    bot = admin_bot
    assert "Usage: /invite ROLE" in texts(await bot.say(ADMIN, "/invite boss D011"))
    assert "Usage: /invite ROLE" in texts(await bot.say(ADMIN, "/invite"))
    unknown = texts(await bot.say(ADMIN, "/invite liaison <X99>"))
    assert "No active unit has the code <X99>" in unknown
    assert "&lt;X99&gt;" in html_sent(bot.api, ADMIN.id)
    assert "please add its code" in texts(await bot.say(ADMIN, "/invite leader"))
    assert "leave out the unit" in texts(await bot.say(ADMIN, "/invite admin D011"))
    assert await invites(bot) == []


async def test_expired_and_unknown_tokens_are_refused(admin_bot: Harness) -> None:
    bot = admin_bot
    token = await make_link(bot, "/invite admin")
    bot.clock.advance(days=7, seconds=1)
    assert "expired" in texts(await bot.say(OTHER, f"/start {token}"))
    assert "not valid" in texts(await bot.say(OTHER, "/start " + "A" * 32))
    assert "no roles" in texts(await bot.say(OTHER, "/whoami"))


async def test_an_invited_admin_can_invite(admin_bot: Harness) -> None:
    bot = admin_bot
    token = await make_link(bot, "/invite 管理员")
    await bot.say(OTHER, f"/start {token}")
    answer = texts(await bot.say(OTHER, "/invite liaison D011"))
    assert LINK.search(answer)


async def test_default_bot_has_no_admins(bot: Harness) -> None:
    assert "only the campaign office" in texts(await bot.say(ADMIN, "/invite admin"))
