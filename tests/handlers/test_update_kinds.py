"""Every kind of update has an owner: edits, channel posts, groups, forged and double presses."""

from __future__ import annotations

import logging

import pytest
from telegram import Update

from bot.fakeapi import FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from tests.handlers.cases.test_casework import (
    LIAISON,
    assign,
    case_bot,
    file_anonymous,
    join_liaison,
)
from tests.handlers.cases.test_report_flow import fill_until_identity
from tests.harness import Harness, labels, texts

__all__ = ["case_bot"]
EN = gettext_for("en")
ZH = gettext_for("zh_CN")
USER = FakeUser(611, "Editor", language_code="en")


async def test_an_edit_is_not_taken_as_the_next_answer(bot: Harness) -> None:
    await bot.say(USER, "/report")
    await bot.press(USER, "Formalism")
    await bot.press(USER, EN("Not sure"))
    await bot.say(USER, "A window clerk sent me away three times.")
    [description] = [
        m
        for m in bot.api.user_messages(USER.id)
        if m.get("text") == "A window clerk sent me away three times."
    ]
    answer = await bot.feed(
        bot.api.edited_message_update(USER, description, "An edited description."), USER
    )
    assert "Edited messages are not taken" in texts(answer)
    skipped = await bot.press(USER, EN("Skip"))  # the when-and-where question still waits
    assert EN("Done") in labels(bot.api, skipped[-1])


async def test_a_channel_post_with_a_command_is_ignored(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    assert bot.app is not None
    before = len(bot.api.calls)
    with caplog.at_level(logging.ERROR):
        post = bot.api.channel_post_update(-100123, "/start")
        await bot.app.process_update(Update.de_json(post, bot.app.bot))
    assert [c.method for c in bot.api.calls[before:]] == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_added_to_a_group_it_says_so_once_and_leaves(bot: Harness) -> None:
    group = -4001
    await bot.feed(bot.api.added_to_group_update(USER, group, "同事群"), USER)
    said = [c for c in bot.api.calls if c.method == "sendMessage" and c.params["chat_id"] == group]
    assert len(said) == 1 and "private" in str(said[0].params["text"])
    assert group in bot.api.left_chats
    await bot.feed(bot.api.group_message_update(USER, group, "/report"), USER)
    again = [c for c in bot.api.calls if c.method == "sendMessage" and c.params["chat_id"] == group]
    assert len(again) == 1


async def test_a_forged_press_leaves_a_liaisons_buttons_alone(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await file_anonymous(bot)
    await assign(bot, "ZF2026-000001")
    card = bot.api.last_message(LIAISON.id)
    shown = bot.api.buttons(card)
    assert ZH("Sign") in [t for row in shown for t, _d in row]
    await bot.press_data(LIAISON, cb.CASE_SIGN.pack(999_999), card)  # data the card never had
    assert bot.api.buttons(bot.api.last_message(LIAISON.id)) == shown


async def test_a_double_press_of_submit_makes_no_refused_call(bot: Harness) -> None:
    user = FakeUser(612, "Double", language_code="en")
    await fill_until_identity(bot, user)
    await bot.press(user, EN("Anonymous"))
    summary = bot.api.last_message(user.id)
    [submit] = [d for row in bot.api.buttons(summary) for t, d in row if t == EN("Submit")]
    first = len(bot.api.calls)
    await bot.press_data(user, str(submit), summary)
    await bot.press_data(user, str(submit), summary)
    refused = [c for c in bot.api.calls[first:] if c.status >= 400]
    assert refused == []
    assert texts(bot.api.sent_messages(user.id)).count("ZF2026-000001") == 1
