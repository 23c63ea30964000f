"""Inline SQLite: writers take turns in asyncio, readers never wait, other processes are awaited."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import checkpoint_wal, create_engine, off_the_loop
from db.sqlite_inline import (
    SUPPORTED_AIOSQLITE,
    InlineConnection,
    check_aiosqlite,
    connect,
    is_read_only,
)
from tests.loop_gaps import loop_gaps


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "inline.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    return path


@pytest.fixture
async def lock() -> asyncio.Lock:
    return asyncio.Lock()


async def _open(path: Path, lock: asyncio.Lock, busy_timeout: float = 2.0) -> InlineConnection:
    connection = await connect([str(path)], {}, lock, busy_timeout)
    await connection.execute("PRAGMA busy_timeout=0")
    return connection


@pytest.fixture
async def pair(db_file: Path, lock: asyncio.Lock) -> AsyncIterator[tuple[InlineConnection, ...]]:
    first, second = await _open(db_file, lock), await _open(db_file, lock)
    yield first, second
    await first.close()
    await second.close()


@pytest.mark.parametrize("version", ["0.22.1", "0.22.1.post1", "0.22.9"])
def test_the_aiosqlite_it_was_written_for_passes_the_guard(version: str) -> None:
    check_aiosqlite(version, aiosqlite.Connection)


@pytest.mark.parametrize("version", ["0.21.0", "0.22.0", "0.23.0", "0.23.0rc1", "1.0", "unknown"])
def test_another_aiosqlite_version_is_refused(version: str) -> None:
    with pytest.raises(RuntimeError, match=re.escape(SUPPORTED_AIOSQLITE)) as refused:
        check_aiosqlite(version, aiosqlite.Connection)
    assert f"aiosqlite {version} is installed" in str(refused.value)


def test_a_connection_without_the_internals_it_overrides_is_refused() -> None:
    class ThreadConnection(threading.Thread):
        """Shaped like aiosqlite 0.21's Connection: the worker thread itself, no stop()."""

        def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int):
            super().__init__()
            self._connection: sqlite3.Connection | None = None

        async def _execute(self, fn: Callable[..., Any], *args: Any) -> Any:
            return fn(*args)

    class Bare:
        def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int):
            pass

    with pytest.raises(RuntimeError) as refused:
        check_aiosqlite("0.22.1", ThreadConnection)
    assert "stop() is missing" in str(refused.value)
    assert "_thread is not its worker thread" in str(refused.value)
    assert "installed" not in str(refused.value)
    with pytest.raises(RuntimeError) as refused:
        check_aiosqlite("0.22.1", Bare)
    assert "_execute() is missing" in str(refused.value)
    assert "_connection is missing" in str(refused.value)


def test_only_selects_count_as_reads() -> None:
    assert is_read_only("  select 1")
    assert not is_read_only("INSERT INTO t VALUES (1, 'a')")
    assert not is_read_only("PRAGMA journal_mode=WAL")
    assert is_read_only("PRAGMA wal_checkpoint(PASSIVE)")
    assert not is_read_only("PRAGMA wal_checkpoint(TRUNCATE)")


async def test_a_second_writer_waits_for_the_first_commit(
    pair: tuple[InlineConnection, InlineConnection], lock: asyncio.Lock
) -> None:
    first, second = pair
    await first.execute("INSERT INTO t (v) VALUES ('first')")
    assert lock.locked()
    waiting = asyncio.create_task(second.execute("INSERT INTO t (v) VALUES ('second')"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    # A reader is not held up by the open write transaction.
    async with second.execute("SELECT count(*) FROM t") as cursor:
        assert await cursor.fetchone() == (0,)
    await first.commit()
    await waiting
    await second.commit()
    assert not lock.locked()
    async with first.execute("SELECT v FROM t ORDER BY id") as cursor:
        assert await cursor.fetchall() == [("first",), ("second",)]


async def test_rollback_and_stop_release_the_lock(
    pair: tuple[InlineConnection, InlineConnection], lock: asyncio.Lock
) -> None:
    first, second = pair
    await first.execute("INSERT INTO t (v) VALUES ('x')")
    await first.rollback()
    assert not lock.locked()
    await second.execute("INSERT INTO t (v) VALUES ('y')")
    assert lock.locked()
    future = second.stop()
    assert not lock.locked()
    if future is not None:
        await future


async def test_another_process_holding_the_lock_is_waited_for(
    db_file: Path, lock: asyncio.Lock
) -> None:
    outsider = sqlite3.connect(db_file, isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    connection = await _open(db_file, lock)
    loop = asyncio.get_running_loop()
    released: list[float] = []

    def release() -> None:
        outsider.execute("COMMIT")
        released.append(loop.time())

    try:
        loop.call_later(0.1, release)
        await connection.execute("INSERT INTO t (v) VALUES ('after')")
        written = loop.time()
        await connection.commit()
        # The insert returned only once the other process had let go of its lock ...
        assert released, "the insert returned while the other process still held the lock"
        assert released[0] <= written
        # ... and then it went through: the other process sees the committed row.
        assert outsider.execute("SELECT v FROM t").fetchall() == [("after",)]
    finally:
        await connection.close()
        outsider.close()


async def test_a_lock_held_too_long_fails_like_sqlite(db_file: Path, lock: asyncio.Lock) -> None:
    outsider = sqlite3.connect(db_file, isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    connection = await _open(db_file, lock, busy_timeout=0.1)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            await connection.execute("INSERT INTO t (v) VALUES ('never')")
        await connection.rollback()
        assert not lock.locked()
    finally:
        await connection.close()
        outsider.execute("ROLLBACK")
        outsider.close()


async def test_many_sessions_write_at_once_without_lock_errors(engine: AsyncEngine) -> None:
    async def write(i: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO report_counter (year, last_seq) VALUES (:y, 0)"), {"y": i}
            )
            await asyncio.sleep(0)
            await connection.execute(
                text("UPDATE report_counter SET last_seq = last_seq + 1 WHERE year = :y"),
                {"y": i},
            )

    await asyncio.gather(*(write(i) for i in range(40)))
    async with engine.connect() as connection:
        total = await connection.scalar(text("SELECT sum(last_seq) FROM report_counter"))
    assert total == 40


async def test_engine_keeps_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/pragmas.db")
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("PRAGMA journal_mode")) == "wal"
            assert await connection.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await engine.dispose()


async def test_commits_never_checkpoint_and_the_job_does(tmp_path: Path) -> None:
    """A checkpoint inside a commit would run inline on the loop: the bot's connections leave
    the WAL alone, and `checkpoint_wal` copies it on the connection's thread."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/wal.db")
    try:
        async with engine.begin() as connection:
            assert await connection.scalar(text("PRAGMA wal_autocheckpoint")) == 0
            await connection.execute(text("CREATE TABLE t (x TEXT)"))
        for i in range(50):
            async with engine.begin() as connection:
                await connection.execute(
                    text("INSERT INTO t VALUES (:x)"), {"x": "x" * 4000 + str(i)}
                )
        frames, copied = await checkpoint_wal(engine) or (0, 0)
        assert frames > 50 and copied == frames
    finally:
        await engine.dispose()


SLOW = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) "
    "SELECT count(*) FROM n"
)


async def _longest_gap_during(engine: AsyncEngine, *, threaded: bool) -> float:
    """Run a statement of a few hundred ms while a ticker records the longest gap between its
    turns on the loop."""
    async with loop_gaps(0.005) as gaps:
        await asyncio.sleep(0.02)
        async with engine.connect() as connection:
            if threaded:
                with off_the_loop():
                    assert (await connection.execute(SLOW)).scalar() == 3000000
            else:
                assert (await connection.execute(SLOW)).scalar() == 3000000
    return max(gaps)


async def test_a_big_statement_off_the_loop_leaves_the_loop_free(db_file: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
    try:
        inline = await _longest_gap_during(engine, threaded=False)
        threaded = await _longest_gap_during(engine, threaded=True)
    finally:
        await engine.dispose()
    assert inline > 0.2, "inline, the statement holds the loop for its whole run"
    assert threaded < 0.1, f"off the loop the ticker kept its turns (longest gap {threaded:.3f} s)"
