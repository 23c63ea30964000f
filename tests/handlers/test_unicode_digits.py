"""Numbers typed with characters Python calls digits but `int()` refuses (², ①, full-width ３)
get the command's ordinary answer, never the "something went wrong" apology."""

from __future__ import annotations

import pytest

from bot.runtime.i18n import gettext_for
from tests.handlers.cases.test_casework import ADMIN, case_bot
from tests.harness import Harness, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
APOLOGY = EN(
    "Sorry, something went wrong on our side. What you entered so far is saved; "
    "please try again, or send /cancel to leave."
)


@pytest.mark.parametrize(
    "command",
    [
        "/revoke ²",
        "/handover D011 ²³",
        "/audit ²",
        "/calendar confirm ²⁰²⁷",
        "/cases month=2026⁰³",
        "/category_limits buck_passing ² ²",
        "/status ZF²⁰²⁶-000001",
    ],
)
async def test_odd_digits_get_an_answer_not_an_apology(case_bot: Harness, command: str) -> None:
    await case_bot.say(ADMIN, "/start")
    answer = texts(await case_bot.say(ADMIN, command))
    assert answer, f"{command} got no answer"
    assert APOLOGY not in answer, f"{command} crashed: {answer}"
