"""A filed report's number (and receipt) reaches its author exactly once, whatever fails."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import select

from bot.fakeapi import FakeUser
from bot.runtime.i18n import gettext_for
from bot.runtime.turn import Turn
from db.delivery.outbox import ACK_PREFIX, counts
from db.engine import create_engine, session_factory
from db.models import IdentityMode, OutboxMessage
from tests.handlers.cases.test_report_flow import fill_until_identity
from tests.harness import Harness, texts
from tests.scheduler.delivery.test_outbox import sender_of

EN = gettext_for("en")
MODES = {
    IdentityMode.real_name: None,
    IdentityMode.anonymous: EN("Anonymous"),
    IdentityMode.fully_anonymous: EN("Fully anonymous"),
}
NUMBER = "ZF2026-000001"


async def to_summary(bot: Harness, user: FakeUser, mode: IdentityMode) -> None:
    await fill_until_identity(bot, user)
    if mode is IdentityMode.real_name:
        await bot.press(user, EN("Real name"))
        await bot.say(user, "张三")
        await bot.say(user, "13800138000")
    else:
        label = MODES[mode]
        assert label is not None
        await bot.press(user, label)


def acks(bot: Harness, user: FakeUser) -> int:
    return texts(bot.api.sent_messages(user.id)).count(NUMBER)


async def ack_rows(bot: Harness) -> list[OutboxMessage]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    await engine.dispose()
    return [r for r in rows if r.dedupe_key.startswith(ACK_PREFIX)]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("method", ["answerCallbackQuery", "editMessageReplyMarkup", "sendMessage"])
async def test_every_failing_call_still_ends_in_one_acknowledgement(
    bot: Harness, mode: IdentityMode, method: str
) -> None:
    user = FakeUser(620, "Reporter", language_code="en")
    await to_summary(bot, user, mode)
    # A reply's own calls are tried three times; the acknowledgement is the outbox's, which
    # tries again when the person next does something.
    bot.api.fail_next(
        method, 500, "Internal Server Error", count=1 if method == "sendMessage" else 3
    )
    await bot.press(user, EN("Submit"))
    await bot.say(user, "/start")  # the next thing they do: the pending one comes first
    assert acks(bot, user) == 1
    [row] = await ack_rows(bot)
    assert row.sent_at is not None and row.text == "" and row.chat_id is None, "erased once sent"


@pytest.mark.parametrize("mode", list(MODES))
async def test_killed_between_commit_and_reply_acknowledges_once_after_restart(
    bot: Harness, mode: IdentityMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = FakeUser(621, "Reporter", language_code="en")

    async def dies(self: Turn) -> None:
        raise asyncio.CancelledError  # the process ends right after the commit

    async def never(*_args: object) -> object:
        raise asyncio.CancelledError

    await to_summary(bot, user, mode)
    monkeypatch.setattr(Turn, "flush", dies)
    monkeypatch.setattr(sender_of(bot), "send_now", never)
    with pytest.raises(asyncio.CancelledError):
        await bot.press(user, EN("Submit"))
    await bot.crash()
    monkeypatch.undo()
    assert acks(bot, user) == 0
    await bot.start()
    await sender_of(bot).drain_once()
    await bot.say(user, "/start")
    assert acks(bot, user) == 1


async def test_a_lost_answer_may_repeat_it_and_is_counted(bot: Harness) -> None:
    user = FakeUser(622, "Reporter", language_code="en")
    await to_summary(bot, user, IdentityMode.fully_anonymous)
    bot.api.lose_answer_next("sendMessage")  # the acknowledgement arrives; its answer does not
    await bot.press(user, EN("Submit"))
    await bot.say(user, "/start")
    assert acks(bot, user) == 2
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        assert (await counts(session)).in_doubt == 1
    await engine.dispose()


async def test_my_reports_says_an_acknowledgement_is_on_its_way(bot: Harness) -> None:
    user = FakeUser(623, "Reporter", language_code="en")
    await to_summary(bot, user, IdentityMode.fully_anonymous)
    # The acknowledgement fails right after the commit and again before /myreports is answered.
    bot.api.fail_next("sendMessage", 500, "Internal Server Error", count=2)
    await bot.press(user, EN("Submit"))
    answer = await bot.say(user, "/myreports")
    assert "has not reached you yet" in texts(answer)
    assert acks(bot, user) == 0
    await bot.say(user, "/start")
    assert acks(bot, user) == 1
