"""Hostile input through the real application, for every role: any text (HTML and MarkdownV2
specials, 5,000 characters, zero-width and right-to-left marks, emoji), forged and stale button
data, unknown commands, every media type, edits, group messages and channel posts. No update
raises, every private update gets an answer, and the double records no Bot API violation."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime import callbacks as cb
from tests.handlers.cases.test_casework import ADMIN, LIAISON, case_bot, join_liaison
from tests.harness import Harness

SPECIALS = "<b>&amp;</b><script>x</script> _*[]()~`>#+-=|{}.! \\ \u200b\u200d\u202e\u2066 😀🇨🇳"
TEXTS = st.one_of(
    st.text(min_size=1, max_size=60).filter(str.strip),  # Telegram delivers no empty text
    st.text(alphabet=SPECIALS, min_size=1, max_size=60),
    st.sampled_from(["x" * 5000, "举" * 5000, SPECIALS * 40, "/", "/start " + "a" * 100]),
    st.builds(lambda word: f"/{word}", st.from_regex(r"[a-z_]{1,20}", fullmatch=True)),
)
PREFIXES = [cb.CASE_SIGN.pack(1).split(":")[0], "inbox", "duty", "rf", "x", ""]
CALLBACK_DATA = st.one_of(
    st.text(max_size=64),
    st.builds(lambda p, n: f"{p}:{n}", st.sampled_from(PREFIXES), st.integers(-5, 10**12)),
)
KINDS = ["text", "text", "press", "edit", "photo", "document", "sticker", "voice", "video"]
KINDS += ["location", "contact", "group", "channel"]
ACTIONS = st.lists(st.tuples(st.sampled_from(KINDS), TEXTS, CALLBACK_DATA), min_size=1, max_size=12)
CITIZENS = itertools.count(810_000)
GROUP = -4100
__all__ = ["case_bot"]


@pytest.fixture
async def office(case_bot: Harness) -> Harness:
    """The case bot with a liaison, and a group the bot was added to."""
    await join_liaison(case_bot)
    await case_bot.feed(case_bot.api.added_to_group_update(ADMIN, GROUP, "作风办群"), ADMIN)
    return case_bot


def _answered(api: FakeBotApi, user: FakeUser, calls_before: int) -> bool:
    """Something reached the person: a message sent or edited in their chat, or the press
    answered."""
    for call in api.calls[calls_before:]:
        chat = call.params.get("chat_id")
        if call.status == 200 and str(chat) == str(user.id):
            return True
        if call.method == "answerCallbackQuery" and call.status == 200:
            return True
    return False


async def _act(bot: Harness, user: FakeUser, kind: str, text: str, data: str) -> bool | None:
    """One update; whether the person got an answer (None: no answer is owed, as in a group)."""
    api = bot.api
    before = len(api.calls)
    sent = api.sent_messages(user.id)
    update: dict[str, Any]
    if kind == "text":
        update = api.message_update(user, text)
    elif kind == "press":
        if not sent:
            return None
        update = api.callback_update(user, sent[-1], data, check_button=False)
    elif kind == "edit":
        mine = api.user_messages(user.id)
        if not mine:
            return None
        update = api.edited_message_update(user, mine[-1], text)
    elif kind == "photo":
        update = api.photo_update(user, b"\xff\xd8\xff" + text.encode()[:50], caption=text[:1000])
    elif kind == "document":
        update = api.document_update(
            user, text.encode()[:100] or b"x", "a.exe", "application/x-msdownload"
        )
    elif kind == "sticker":
        update = api.sticker_update(user)
    elif kind == "voice":
        update = api.voice_update(user)
    elif kind == "video":
        update = api.video_update(user)
    elif kind == "location":
        update = api.location_update(user)
    elif kind == "contact":
        update = api.contact_update(user, "+8613800138000")
    elif kind == "group":
        await bot.feed(api.group_message_update(user, GROUP, text), user)
        return None
    else:
        await bot.feed(api.channel_post_update(-100200, text), user)
        return None
    await bot.feed(update, user)
    return _answered(api, user, before)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=ACTIONS, role=st.sampled_from(["citizen", "liaison", "admin", "stranger"]))
async def test_no_input_breaks_the_bot_and_every_private_update_is_answered(
    office: Harness, actions: list[tuple[str, str, str]], role: str, caplog: Any
) -> None:
    user = {
        "citizen": FakeUser(next(CITIZENS), "Citizen", language_code="en"),
        "liaison": LIAISON,
        "admin": ADMIN,
        "stranger": FakeUser(next(CITIZENS), "Странник", language_code="ru"),
    }[role]
    with caplog.at_level(logging.ERROR):
        for kind, text, data in actions:
            answered = await _act(office, user, kind, text, data)
            assert answered is not False, f"{role}: {kind} {text[:40]!r} {data[:40]!r} unanswered"
        await office.say(user, "/cancel")  # leave no flow waiting for the next example
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert office.api.violations == []
