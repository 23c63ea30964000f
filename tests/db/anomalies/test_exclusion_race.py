"""An exclusion and the round's close at the same moment, in two sessions on PostgreSQL (read
committed): whichever commits first, the frozen results leave the excluded ballot out, and the
admin is told what really happened. (SQLite lets one writer in at a time, so they cannot meet.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.anomalies import exclusions
from db.anomalies.exclusions import Changed, set_excluded
from db.anomalies.rules import ItemKind
from db.appraisal.ballots import BallotProblem, cast_ballot
from db.appraisal.rounds import close_round
from db.engine import session_factory
from db.models import AppraisalRound, Ballot, RoundGroup, RoundResult
from tests.db.anomalies.anomaly_rows import account, appraisal_round, ballot, unit

CLOSE = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)


async def _open_round(engine: AsyncEngine) -> tuple[int, int, int]:
    """An open round of one unit with a fair ballot and a low one; (round, unit, low ballot)."""
    async with session_factory(engine)() as session:
        department = await unit(session, "W77", "测试窗口")
        people = [
            await account(session, 7700 + n, CLOSE - timedelta(days=90), evaluator=True)
            for n in range(2)
        ]
        round_ = await appraisal_round(session, [department], CLOSE, closed=False)
        assert round_.id is not None
        await ballot(session, round_.id, department, people[0], [5] * 5, CLOSE)
        low = await ballot(session, round_.id, department, people[1], [1] * 5, CLOSE)
        await session.commit()
        return round_.id, department, low


async def _waits_for_a_lock(engine: AsyncEngine, task: asyncio.Task[object]) -> bool:
    """Whether `task` ends up waiting for a row lock (False once it has finished instead)."""
    for _ in range(200):
        if task.done():
            return False
        async with engine.connect() as watcher:
            waiting = await watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return True
        await asyncio.sleep(0.02)
    raise AssertionError("neither finished nor waiting")


async def _counted(engine: AsyncEngine, round_id: int, department_id: int) -> int:
    async with session_factory(engine)() as session:
        result = await session.get(RoundResult, (round_id, department_id))
        assert result is not None
        return result.ballots


async def _exclude(
    engine: AsyncEngine,
    ballot_id: int,
    made: asyncio.Event | None = None,
    release: asyncio.Event | None = None,
) -> Changed:
    """Exclude the ballot and commit; with `made` and `release`, say it is made and wait for
    `release` before committing."""
    async with session_factory(engine)() as session:
        outcome = await set_excluded(
            session,
            ItemKind.ballot,
            ballot_id,
            excluded=True,
            actor_account_id=None,
            reason="雷同",
            now=CLOSE + timedelta(minutes=1),
        )
        assert isinstance(outcome, Changed)
        if made is not None and release is not None:
            made.set()
            await release.wait()
        await session.commit()
        return outcome


async def test_an_exclusion_while_the_close_computes_is_counted_out_after_it(
    engine: AsyncEngine, postgres_url: str
) -> None:
    round_id, department_id, low = await _open_round(engine)
    async with session_factory(engine)() as closer:
        round_ = await closer.get(AppraisalRound, round_id)
        assert round_ is not None
        assert await close_round(closer, round_, CLOSE) is not None  # not committed yet
        excluding = asyncio.create_task(_exclude(engine, low))
        assert await _waits_for_a_lock(engine, excluding), "the exclusion waits for the close"
        await closer.commit()
    changed = await excluding
    assert changed.score is not None, "told the frozen results were computed again"
    assert changed.score.before_ballots == 2 and changed.score.after_ballots == 1
    assert await _counted(engine, round_id, department_id) == 1


async def test_a_close_while_an_exclusion_is_made_leaves_the_ballot_out(
    engine: AsyncEngine, postgres_url: str
) -> None:
    round_id, department_id, low = await _open_round(engine)

    async def close() -> None:
        async with session_factory(engine)() as closer:
            round_ = await closer.get(AppraisalRound, round_id)
            assert round_ is not None
            assert await close_round(closer, round_, CLOSE) is not None
            await closer.commit()

    made, release = asyncio.Event(), asyncio.Event()
    excluding = asyncio.create_task(_exclude(engine, low, made, release))
    await asyncio.wait_for(made.wait(), timeout=10)  # excluded, not committed yet
    closing = asyncio.create_task(close())
    assert await _waits_for_a_lock(engine, closing), "the close waits for the exclusion"
    release.set()
    changed = await excluding
    await closing
    assert changed.score is None, "told the close (still to come) leaves it out"
    assert await _counted(engine, round_id, department_id) == 1


async def test_a_ballot_changed_while_it_is_excluded_waits_instead_of_deadlocking(
    engine: AsyncEngine, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exclusion locked the ballot and then the round, a ballot being cast the round and
    then the ballot: met half way, each waited for the other and PostgreSQL killed one."""
    round_id, department_id, low = await _open_round(engine)
    async with session_factory(engine)() as session:
        cast = await session.get(Ballot, low)
        assert cast is not None
        evaluator = cast.account_id
        session.add(RoundGroup(round_id=round_id, group_id=1))  # the evaluators' group
        await session.commit()
    made, release = asyncio.Event(), asyncio.Event()
    recompute = exclusions._recompute

    async def between(*args: Any) -> Any:
        made.set()  # the ballot's row is excluded, the frozen figures not yet looked at
        await release.wait()
        return await recompute(*args)

    monkeypatch.setattr(exclusions, "_recompute", between)
    excluding = asyncio.create_task(_exclude(engine, low))
    await asyncio.wait_for(made.wait(), timeout=10)

    async def change() -> Ballot | BallotProblem:
        async with session_factory(engine)() as session:
            changed = await cast_ballot(
                session,
                round_id=round_id,
                department_id=department_id,
                account_id=evaluator,
                marks=[2] * 5,
                now=CLOSE - timedelta(hours=1),
            )
            await session.commit()
            return changed

    changing = asyncio.create_task(change())
    assert await _waits_for_a_lock(engine, changing), "the change waits for the exclusion"
    release.set()
    changed = await asyncio.wait_for(changing, timeout=10)
    assert isinstance(changed, Ballot) and changed.excluded_at is not None
    assert (await excluding).item.excluded_at is not None
