"""Inline statements of several tasks ready at once do not add up to one long turn of the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import text

from db import loop_slices
from db.engine import create_engine

SLICE = 0.015
STATEMENT = 0.007
"""What a statement costs on the fake clock: an update's few milliseconds of SQLite and ORM."""


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _turns_while(turns: list[list[str]], work: Callable[[], Awaitable[object]]) -> None:
    """Record in `turns` what ran between two turns of a callback that re-queues itself every
    turn (the loop's own sockets and timers stand in line like it): the work appends the name
    of each statement it runs to `turns[-1]`, and each turn starts a new list."""
    loop = asyncio.get_running_loop()
    turns.append([])
    done = False

    def turn() -> None:
        if not done:
            turns.append([])
            loop.call_soon(turn)

    loop.call_soon(turn)
    await work()
    done = True


async def test_ready_tasks_step_aside_once_the_loop_has_worked_a_slice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(loop_slices, "clock", clock)
    turns: list[list[str]] = []

    async def statements(name: str) -> None:
        for _ in range(8):
            await loop_slices.yield_if_held(SLICE)
            clock.now += STATEMENT
            turns[-1].append(name)

    async def both() -> None:
        await asyncio.gather(statements("a"), statements("b"))

    await _turns_while(turns, both)
    done = [name for turn in turns for name in turn]
    assert sorted(done) == ["a"] * 8 + ["b"] * 8, "every statement still runs, once"
    longest = max(len(turn) for turn in turns)
    # A turn holds the statements that fit in the slice and the one that ran past it.
    assert longest * STATEMENT <= SLICE + 2 * STATEMENT, turns
    # Once both have stepped aside, they take the slices in turn, in the order they stepped
    # aside (a first), a whole slice each: neither advances one statement a turn.
    busy = [turn for turn in turns if turn]
    assert busy[1:4] == [["a"] * 3, ["b"] * 3, ["a", "a", "b"]], turns


async def test_inline_sqlite_statements_take_turns_with_the_loop(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the engine: two tasks' SELECTs on inline connections leave turns to the loop,
    where without the slices each task ran all its statements in one go."""
    clock = FakeClock()
    monkeypatch.setattr(loop_slices, "clock", clock)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('slices') / 'slices.db'}")
    turns: list[list[str]] = []

    async def statements(name: str) -> None:
        async with engine.connect() as connection:
            for i in range(12):
                assert (await connection.execute(text("SELECT :i"), {"i": i})).scalar() == i
                clock.now += STATEMENT
                turns[-1].append(name)

    async def both() -> None:
        await asyncio.gather(statements("a"), statements("b"))

    try:
        await _turns_while(turns, both)
    finally:
        await engine.dispose()
    assert sum(len(turn) for turn in turns) == 24
    assert max(len(turn) for turn in turns) * STATEMENT <= loop_slices.SLICE_SECONDS + 3 * (
        STATEMENT
    ), turns


async def test_the_first_statement_after_a_quiet_spell_steps_aside_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stretch is measured from the loop's last break: after a long quiet spell the first
    statement lets the loop come round once, then the next ones run on in a fresh slice."""
    clock = FakeClock()
    monkeypatch.setattr(loop_slices, "clock", clock)
    loop = asyncio.get_running_loop()
    await loop_slices.yield_if_held(SLICE)  # the loop's stretch exists from here
    clock.now += 60.0
    stepped_aside: list[bool] = []
    for _ in range(3):
        came_round: list[bool] = []
        loop.call_soon(came_round.append, True)
        await loop_slices.yield_if_held(SLICE)
        stepped_aside.append(bool(came_round))
    assert stepped_aside == [True, False, False]


async def test_a_cancelled_task_loses_its_place_and_nobody_else_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(loop_slices, "clock", clock)
    await loop_slices.yield_if_held(SLICE)
    clock.now += 1.0
    first = asyncio.create_task(loop_slices.yield_if_held(SLICE))
    second = asyncio.create_task(loop_slices.yield_if_held(SLICE))
    await asyncio.sleep(0)
    first.cancel()
    async with asyncio.timeout(1):
        await second
    assert first.cancelled()
