"""Telegram failing, rate limits and our own bugs: the person is answered and nothing is lost."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.fakeapi import FakeUser
from bot.runtime.i18n import gettext_for
from bot.runtime.services import services_of
from tests.harness import Harness, labels, texts

EN = gettext_for("en")


async def start_to_description(bot: Harness, user: FakeUser) -> None:
    await bot.say(user, "/report")
    await bot.press(user, "Formalism")
    await bot.press(user, EN("Not sure"))


async def test_a_refused_reply_is_sent_again(bot: Harness) -> None:
    user = FakeUser(id=601, first_name="A", language_code="en")
    await start_to_description(bot, user)
    bot.api.fail_next("sendMessage", 502, "Bad Gateway")
    answered = await bot.say(user, "The description that must not be lost.")
    assert EN("Skip") in labels(bot.api, answered[-1]), "Telegram refused it once; sent again"


async def test_a_reply_that_fails_every_time_loses_no_answer(bot: Harness) -> None:
    user = FakeUser(id=604, first_name="D", language_code="en")
    await start_to_description(bot, user)
    bot.api.fail_next("sendMessage", 502, "Bad Gateway", count=3)
    lost = await bot.say(user, "The description that must not be lost.")
    assert lost == []
    resumed = await bot.say(user, "/report")
    assert EN("Skip") in labels(bot.api, resumed[-1]), "the answer was kept; next question shown"


async def test_a_reply_whose_answer_was_lost_is_not_sent_twice(bot: Harness) -> None:
    user = FakeUser(id=605, first_name="E", language_code="en")
    await start_to_description(bot, user)
    bot.api.lose_answer_next("sendMessage")
    answered = await bot.say(user, "A description long enough to be accepted.")
    assert len(answered) == 1 and EN("Skip") in labels(bot.api, answered[0])


async def test_a_failed_toast_does_not_cost_the_next_question(bot: Harness) -> None:
    user = FakeUser(id=606, first_name="F", language_code="en")
    await bot.say(user, "/report")
    bot.api.fail_next("answerCallbackQuery", 500, "Internal Server Error", count=3)
    pressed = await bot.press(user, "Formalism")
    assert EN("Not sure") in labels(bot.api, pressed[-1])


async def test_a_rate_limit_is_waited_out(bot: Harness) -> None:
    user = FakeUser(id=602, first_name="B", language_code="en")
    await start_to_description(bot, user)
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    answered = await bot.say(user, "A description long enough to be accepted.")
    assert EN("Skip") in labels(bot.api, answered[-1])


async def test_a_rate_limit_for_one_chat_holds_up_nobody_else(bot: Harness) -> None:
    """Telegram refuses one person's reply with a 1 s wait: that reply is waited out and
    delivered, and another person's reply meanwhile goes at once."""
    slow = FakeUser(id=607, first_name="S", language_code="en")
    other = FakeUser(id=608, first_name="O", language_code="en")
    await bot.say(slow, "/start")
    await bot.say(other, "/start")
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)

    async def other_answered_after() -> float:
        await asyncio.sleep(0.1)  # the refusal has happened
        started = time.monotonic()
        assert "Welcome" in texts(await bot.say(other, "/start"))
        return time.monotonic() - started

    refused, waited = await asyncio.gather(bot.say(slow, "/start"), other_answered_after())
    assert "Welcome" in texts(refused)
    assert waited < 0.5
    assert bot.app is not None
    assert services_of(bot.app).budget.stats.chat_pauses == 1


async def test_an_internal_error_gets_a_polite_answer(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = FakeUser(id=603, first_name="C", language_code="en")
    await bot.say(user, "/report")
    await bot.press(user, "Formalism")

    async def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise RuntimeError("database went away")

    monkeypatch.setattr("handlers.cases.report.search_departments", broken)
    apology = await bot.say(user, "公安")
    assert "saved" in texts(apology)
    monkeypatch.undo()
    retry = await bot.say(user, "公安")
    assert "市公安局" in labels(bot.api, retry[-1])
