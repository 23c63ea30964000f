"""One person flooding the bot is told once, then not read for a while; nobody else waits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.flood import FloodGate, Verdict
from bot.runtime.services import services_of
from bot.runtime.settings import FloodSettings
from tests.harness import Harness, make_settings, prepare_database, texts

FLOODER = FakeUser(621, "Flood", language_code="en")
OTHER = FakeUser(622, "Calm", language_code="en")
SLOW_DOWN = "faster than I can read them"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_gate_counts_per_person_within_the_window() -> None:
    ticks = Ticks()
    gate = FloodGate(updates=3, seconds=10, pause_seconds=60, clock=ticks)
    assert [gate.admit(1) for _ in range(3)] == [Verdict.admit] * 3
    assert gate.admit(2) is Verdict.admit, "another person has a count of their own"
    assert gate.admit(1) is Verdict.warn
    assert gate.admit(1) is Verdict.drop
    ticks.now += 59
    assert gate.admit(1) is Verdict.drop
    ticks.now += 2
    assert gate.admit(1) is Verdict.admit, "after the pause the person starts afresh"
    # Spread out, the same number is no flood.
    for _ in range(10):
        ticks.now += 4
        assert gate.admit(3) is Verdict.admit


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, flood=FloodSettings(updates=5, seconds=10, pause_seconds=60))
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    await harness.stop()
    assert harness.api.violations == []


async def test_a_flood_is_told_once_and_dropped_while_others_are_answered(bot: Harness) -> None:
    assert bot.app is not None
    ticks = Ticks()
    gate = services_of(bot.app).flood
    gate.clock = ticks
    answers = [await bot.say(FLOODER, f"/start {i}") for i in range(5)]
    assert all(answers), "five in ten seconds is a person typing"
    told = await bot.say(FLOODER, "/start")
    assert SLOW_DOWN in texts(told)
    for _ in range(30):
        assert await bot.say(FLOODER, "/report") == []
    started = time.monotonic()
    assert "Welcome" in texts(await bot.say(OTHER, "/start"))
    assert time.monotonic() - started < 1.0
    ticks.now += 61
    assert "Welcome" in texts(await bot.say(FLOODER, "/start")), "heard again after the pause"
    assert sum(SLOW_DOWN in m.get("text", "") for m in bot.api.sent_messages(FLOODER.id)) == 1
