"""Telegram failing, rate limits and our own bugs: the person is answered and nothing is lost."""

from __future__ import annotations

import pytest

from bot.fakeapi import FakeUser
from bot.runtime.i18n import gettext_for
from tests.harness import Harness, labels, texts

EN = gettext_for("en")


async def start_to_description(bot: Harness, user: FakeUser) -> None:
    await bot.say(user, "/report")
    await bot.press(user, "Formalism")
    await bot.press(user, EN("Not sure"))


async def test_a_failed_reply_loses_no_answer(bot: Harness) -> None:
    user = FakeUser(id=601, first_name="A", language_code="en")
    await start_to_description(bot, user)
    bot.api.fail_next("sendMessage", 502, "Bad Gateway")
    lost = await bot.say(user, "The description that must not be lost.")
    assert lost == []
    resumed = await bot.say(user, "/report")
    assert EN("Skip") in labels(bot.api, resumed[-1]), "the answer was kept; next question shown"


async def test_a_rate_limit_is_waited_out(bot: Harness) -> None:
    user = FakeUser(id=602, first_name="B", language_code="en")
    await start_to_description(bot, user)
    bot.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    answered = await bot.say(user, "A description long enough to be accepted.")
    assert EN("Skip") in labels(bot.api, answered[-1])


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
