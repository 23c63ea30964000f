"""The outbox and its sender: each message delivered once, through errors, blocks and crashes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.send_budget import serving
from bot.runtime.settings import DeliverySettings, RateLimitSettings
from db.delivery.outbox import claim, counts, enqueue
from db.delivery.wecom import mask_url
from db.engine import create_engine, session_factory
from db.models import Account, Department, OutboxMessage
from scheduler.delivery.sender import (
    WECOM_LIMIT_BYTES,
    OutboxSender,
    backoff,
    is_quiet,
    wecom_markdown,
)
from tests.handlers.cases.test_casework import ADMIN, LIAISON, join_liaison
from tests.harness import Harness, make_settings, prepare_database, texts

CITIZEN = FakeUser(7001, "Citizen", language_code="zh-CN")
WORKDAY_MORNING = datetime(2026, 3, 16, 2, 30, tzinfo=UTC)  # Monday 10:30 in Shanghai
EVENING = datetime(2026, 3, 16, 12, 30, tzinfo=UTC)  # Monday 20:30
SATURDAY = datetime(2026, 3, 21, 2, 30, tzinfo=UTC)
NOW_ANY = WORKDAY_MORNING


@pytest.fixture
async def office(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == []


def sender_of(bot: Harness) -> OutboxSender:
    assert bot.app is not None
    sender = bot.app.bot_data["services"].sender
    assert isinstance(sender, OutboxSender)
    return sender


async def put(bot: Harness, key: str, chat_id: int, *, urgent: bool = False) -> bool:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        added = await enqueue(
            session,
            key=key,
            chat_id=chat_id,
            text=f"<b>{key}</b>",
            now=bot.clock.now,
            urgent=urgent,
        )
        await session.commit()
    await engine.dispose()
    return added


async def rows(bot: Harness) -> dict[str, OutboxMessage]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = {r.dedupe_key: r for r in (await session.exec(select(OutboxMessage))).all()}
    await engine.dispose()
    return found


def delivered(bot: Harness, chat_id: int, text: str) -> int:
    return sum(1 for m in bot.api.sent_messages(chat_id) if text in m.get("text", ""))


async def test_a_key_is_queued_once_and_sent_once(office: Harness) -> None:
    bot = office
    await bot.say(CITIZEN, "/start")
    assert await put(bot, "remind:reply_due:ZF2026-000001:-1", CITIZEN.id)
    assert not await put(bot, "remind:reply_due:ZF2026-000001:-1", CITIZEN.id)
    sender = sender_of(bot)
    assert (await sender.drain_once()).sent == 1
    assert (await sender.drain_once()).sent == 0
    assert delivered(bot, CITIZEN.id, "remind:reply_due") == 1
    row = (await rows(bot))["remind:reply_due:ZF2026-000001:-1"]
    assert row.sent_at is not None and row.attempts == 1 and row.in_doubt == 0


async def test_server_errors_and_rate_limits_are_retried_until_delivered(office: Harness) -> None:
    bot = office
    await bot.say(CITIZEN, "/start")
    await put(bot, "k1", CITIZEN.id)
    sender = sender_of(bot)
    bot.api.fail_next("sendMessage", 500, "Internal Server Error")
    assert (await sender.drain_once()).retried == 1
    row = (await rows(bot))["k1"]
    assert (
        row.sent_at is None
        and row.attempts == 1
        and "Internal Server Error" in (row.last_error or "")
    )
    assert row.next_attempt_at == bot.clock.now + backoff(1)
    assert (await sender.drain_once()).sent == 0, "not before its retry time"
    bot.clock.advance(seconds=backoff(1).total_seconds())
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    assert (await sender.drain_once()).retried == 1
    bot.clock.advance(seconds=2)
    bot.api.drop_next("sendMessage")
    assert (await sender.drain_once()).retried == 1
    assert "dropped" in ((await rows(bot))["k1"].last_error or "")
    bot.clock.advance(seconds=backoff(3).total_seconds())
    assert (await sender.drain_once()).sent == 1
    assert delivered(bot, CITIZEN.id, "k1") == 1
    assert (await rows(bot))["k1"].attempts == 4


async def test_a_crash_between_sending_and_marking_resends_once(office: Harness) -> None:
    bot = office
    await bot.say(CITIZEN, "/start")
    await put(bot, "in-doubt", CITIZEN.id)
    await put(bot, "untouched", CITIZEN.id)
    row = (await rows(bot))["in-doubt"]
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        assert await claim(session, row.id or 0, bot.clock.now)
        await session.commit()
    await engine.dispose()
    # The process dies here: Telegram may or may not have the message.
    await bot.crash()
    await bot.start()
    sender = sender_of(bot)
    assert sender.recovered == 1
    await sender.drain_once()
    after = await rows(bot)
    assert after["in-doubt"].sent_at is not None and after["in-doubt"].in_doubt == 1
    assert after["untouched"].in_doubt == 0
    assert delivered(bot, CITIZEN.id, "untouched") == 1
    assert delivered(bot, CITIZEN.id, "in-doubt") == 1  # the first attempt never reached the API
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        assert (await counts(session)).in_doubt == 1
    await engine.dispose()


async def test_a_blocked_official_is_marked_and_the_office_told_once(office: Harness) -> None:
    bot = office
    await bot.say(ADMIN, "/start")
    await join_liaison(bot)
    bot.api.block(LIAISON.id)
    for key in ("a", "b", "c"):
        await put(bot, key, LIAISON.id)
    sender = sender_of(bot)
    result = await sender.drain_once()
    assert result.failed == 1 and result.sent == 0
    found = await rows(bot)
    assert all(found[k].failed_at is not None for k in ("a", "b", "c"))
    await sender.drain_once()
    told = [m for m in bot.api.sent_messages(ADMIN.id) if str(LIAISON.id) in m.get("text", "")]
    assert len(told) == 1 and "市公安局" in told[0]["text"]
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        account = (
            await session.exec(select(Account).where(Account.telegram_id == LIAISON.id))
        ).one()
    await engine.dispose()
    assert account.unreachable


async def test_a_blocked_citizen_is_never_named_to_anyone(office: Harness) -> None:
    bot = office
    await bot.say(CITIZEN, "/start")
    await bot.say(ADMIN, "/start")
    bot.api.block(CITIZEN.id)
    await put(bot, "for-citizen", CITIZEN.id, urgent=True)
    await sender_of(bot).drain_once()
    await sender_of(bot).drain_once()
    assert all(str(CITIZEN.id) not in m.get("text", "") for m in bot.api.sent_messages(ADMIN.id))


async def test_quiet_hours_hold_back_everything_but_urgent_notices(office: Harness) -> None:
    bot = office
    await bot.say(CITIZEN, "/start")
    bot.clock.now = EVENING
    await put(bot, "reminder", CITIZEN.id)
    await put(bot, "reporter-notice", CITIZEN.id, urgent=True)
    await sender_of(bot).drain_once()
    assert delivered(bot, CITIZEN.id, "reporter-notice") == 1
    assert delivered(bot, CITIZEN.id, "reminder") == 0
    bot.clock.now = EVENING + timedelta(hours=12)  # Tuesday 08:30
    await sender_of(bot).drain_once()
    assert delivered(bot, CITIZEN.id, "reminder") == 1


def test_the_send_window_follows_working_days(tmp_path: Path) -> None:
    from db.calendar.workdays import WorkCalendar

    settings = make_settings(tmp_path)
    calendar = WorkCalendar()
    assert not is_quiet(WORKDAY_MORNING, settings, calendar)
    assert is_quiet(EVENING, settings, calendar)
    assert is_quiet(SATURDAY, settings, calendar)
    assert is_quiet(datetime(2026, 10, 1, 2, 30, tzinfo=UTC), settings, calendar), "国庆"
    # 2026-10-10 is a Saturday made a working day (调休).
    assert not is_quiet(datetime(2026, 10, 10, 2, 30, tzinfo=UTC), settings, calendar)


def test_wecom_text_and_masked_url() -> None:
    assert wecom_markdown("<b>催办</b> ZF2026-000001 &lt;市公安局&gt;") == (
        "**催办** ZF2026-000001 <市公安局>"
    )
    url = (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    )
    assert mask_url(url).endswith("key=…5aaa") and "693a91f6" not in mask_url(url)


async def test_a_units_wecom_robot_gets_markdown_within_its_limit(office: Harness) -> None:
    bot = office
    key = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"
    assert "not a robot" in texts(await bot.say(ADMIN, "/wecom D011 https://example.com/x"))
    answer = texts(await bot.say(ADMIN, f"/wecom D011 {url}"))
    assert "…5aaa" in answer and key not in answer
    assert key not in texts(await bot.say(ADMIN, "/wecom D011"))

    posted: list[dict[str, object]] = []
    answers = iter([{"errcode": 45009, "errmsg": "api freq out of limit"}])

    def robot(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200, json=next(answers, {"errcode": 0, "errmsg": "ok"}))

    sender = sender_of(bot)
    sender.http = httpx.AsyncClient(transport=httpx.MockTransport(robot))
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        unit = (await session.exec(select(Department).where(Department.code == "D011"))).one()
        await enqueue(
            session,
            key="robot-1",
            department_id=unit.id,
            text="<b>催办</b> &lt;x&gt;",
            now=bot.clock.now,
        )
        await session.commit()
    await engine.dispose()
    assert (await sender.drain_once()).retried == 1, "45009: the robot's limit, try later"
    bot.clock.advance(seconds=61)
    assert (await sender.drain_once()).sent == 1
    assert posted[-1] == {"msgtype": "markdown", "markdown": {"content": "**催办** <x>"}}
    found = await rows(bot)
    assert key not in (found["robot-1"].last_error or "")


async def test_the_offices_own_robot_gets_escalations(office: Harness) -> None:
    from pydantic import SecretStr

    from bot.runtime.settings import WecomSettings

    bot = office
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=office-secret-key"
    bot.settings.wecom = WecomSettings(office_url=SecretStr(url))
    posted: list[str] = []

    def robot(request: httpx.Request) -> httpx.Response:
        posted.append(str(request.url))
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})

    sender = sender_of(bot)
    sender.http = httpx.AsyncClient(transport=httpx.MockTransport(robot))
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        with pytest.raises(ValueError):
            await enqueue(session, key="x", chat_id=1, office_robot=True, text="x", now=NOW_ANY)
        await enqueue(session, key="office-1", office_robot=True, text="督办", now=bot.clock.now)
        await session.commit()
    await engine.dispose()
    assert (await sender.drain_once()).sent == 1
    assert posted == [url]


def test_wecom_markdown_fits_a_robot() -> None:
    # 3,000 Chinese characters fit one Telegram message but are 9,000 bytes for WeCom.
    long = wecom_markdown("<b>情况通报</b>" + "超期" * 1500)
    assert len(long.encode()) <= WECOM_LIMIT_BYTES
    assert long.startswith("**情况通报**超期") and long.endswith("…")
    assert wecom_markdown("短消息") == "短消息"


async def test_a_lost_answer_is_retried_and_the_possible_copy_counted(office: Harness) -> None:
    bot = office
    await bot.say(CITIZEN, "/start")
    await put(bot, "lost", CITIZEN.id)
    sender = sender_of(bot)
    bot.api.lose_answer_next("sendMessage")
    assert (await sender.drain_once()).retried == 1
    assert delivered(bot, CITIZEN.id, "lost") == 1, "Telegram did send it"
    assert (await rows(bot))["lost"].in_doubt == 1
    bot.clock.advance(seconds=backoff(1).total_seconds())
    assert (await sender.drain_once()).sent == 1
    assert delivered(bot, CITIZEN.id, "lost") == 2, "the second copy the count announced"
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        assert (await counts(session)).in_doubt == 1
    await engine.dispose()


async def test_a_refused_attempt_is_not_in_doubt(office: Harness) -> None:
    bot = office
    await bot.say(CITIZEN, "/start")
    await put(bot, "refused", CITIZEN.id)
    sender = sender_of(bot)
    bot.api.fail_next("sendMessage", 502, "Bad Gateway")
    assert (await sender.drain_once()).retried == 1
    bot.api.drop_next("sendMessage")  # the connection broke before the call was made
    bot.clock.advance(seconds=backoff(1).total_seconds())
    assert (await sender.drain_once()).retried == 1
    bot.clock.advance(seconds=backoff(2).total_seconds())
    assert (await sender.drain_once()).sent == 1
    assert delivered(bot, CITIZEN.id, "refused") == 1
    assert (await rows(bot))["refused"].in_doubt == 0


async def test_a_persons_message_does_not_wait_behind_the_bulk(tmp_path: Path) -> None:
    """A handler's own notice (a report's acknowledgement) goes at the next slot of the budget,
    although the bulk holds every place in flight while it waits for the budget's slots, and
    the handler does not wait for the bulk's sends to finish."""
    settings = make_settings(
        tmp_path,
        rate_limit=RateLimitSettings(overall_per_second=5, chat_interval_seconds=0),
        delivery=DeliverySettings(concurrency=1),
    )
    await prepare_database(settings.database.url)
    bot = Harness(api=FakeBotApi(), settings=settings)
    await bot.start()
    try:
        strangers = [FakeUser(8100 + i, f"S{i}") for i in range(10)]
        for user in [CITIZEN, *strangers]:
            bot.api.add_user(user)
        for user in strangers:
            await put(bot, f"bulk:{user.id}", user.id)
        sender = sender_of(bot)
        sender.wake.set()
        for _ in range(500):  # up to 5 s: the bulk under way, each message waiting for its slot
            before = sum(delivered(bot, u.id, "bulk:") for u in strangers)
            if before:
                break
            await asyncio.sleep(0.01)
        assert 1 <= before < len(strangers)
        await put(bot, "ack:citizen", CITIZEN.id, urgent=True)

        async def answer_the_citizen() -> None:
            serving(CITIZEN.id)  # as the update processor marks the chat it serves
            await sender.send_now(["ack:citizen"])

        await asyncio.create_task(answer_the_citizen())
        assert delivered(bot, CITIZEN.id, "ack:citizen") == 1
        # At five a second the ten bulk messages take two seconds; the person's went first: at
        # most the one bulk message already booked went between. (Counted against what had gone
        # before, not against the clock, which a loaded machine stretches.)
        assert sum(delivered(bot, u.id, "bulk:") for u in strangers) <= before + 1
    finally:
        await bot.stop()
