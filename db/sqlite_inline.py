"""SQLite statements on the event loop's own thread, with writers queued in asyncio.

Why: aiosqlite runs every call (cursor, execute, fetch, close, commit) on a worker thread, so one
step of a chat flow made some twenty thread round trips, each a GIL hand-off and an event-loop
wake-up. Worse, SQLite's lock waits were sleeps inside those threads: a writer that found the
database locked slept 1, 2, 5 … 100 ms in SQLite's busy handler while the lock holder, itself
waiting for its turn on the event loop, kept the lock for several loop iterations. Measured under
the benchmark's load, an UPDATE waited 74 ms on average and up to 5 s for a lock that is held for
well under a millisecond of actual work.

In WAL mode a statement of this product takes tens of microseconds, less than one thread hop, and
readers never wait for writers. So every statement runs inline, and the only thing that can wait,
the write lock, is taken in asyncio: a write transaction first acquires an `asyncio.Lock` shared by
the engine's connections (first come, first served, and woken the moment it is free) and releases
it when the transaction ends. Another process (the CLI, a backup) can still hold SQLite's lock;
then the statement is retried with asyncio sleeps instead of blocking the loop, for up to
`busy_timeout` seconds, after which it fails with SQLite's own "database is locked".

A statement inline never gives the loop back, so the statements of several tasks ready at once
could add up to one long turn of the loop: each statement first asks `db.loop_slices` whether
the loop has worked long enough without a break, and steps aside for a turn if so.

Durability is unchanged: a commit is the same SQLite commit, only issued from another thread.
The worker thread of aiosqlite is kept for opening and closing the connection.

Why aiosqlite's internals: aiosqlite has no public way to run a call anywhere but on its worker
thread. Every call of a `Connection` and of its `Cursor`s goes through the private
`Connection._execute(fn, *args)`, so overriding that one method is what runs statements inline;
`_connection` (the sqlite3 connection, asked whether a transaction is open) and `_thread` (the
worker thread, made a daemon) are private too. SQLAlchemy's aiosqlite dialect needs a real
`aiosqlite.Connection` (it uses private parts of it itself), so a class of our own is no way out.
Written for and tested with aiosqlite 0.22.1. 0.22.0 has no public `stop()` (which SQLAlchemy and
`InlineConnection.stop` call); 0.21 and older are a `Thread` subclass without `_thread`.
pyproject.toml pins the same range, and `check_aiosqlite` refuses any other at import.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import aiosqlite

from db.loop_slices import yield_if_held

# sqlite3 error codes (Python 3.11+ exposes them on exceptions as `sqlite_errorcode`).
SQLITE_BUSY = 5
SQLITE_BUSY_RECOVERY = 5 | (1 << 8)
_RETRYABLE = frozenset({SQLITE_BUSY, SQLITE_BUSY_RECOVERY})
_STATEMENTS = frozenset({"execute", "executemany"})
_FIRST_RETRY_DELAY = 0.001
_MAX_RETRY_DELAY = 0.05

SUPPORTED_AIOSQLITE = ">=0.22.1,<0.23"
"""The aiosqlite versions this module was written for; tested with 0.22.1."""
_SUPPORTED_RANGE = ((0, 22, 1), (0, 23))


def check_aiosqlite(version: str, connection_class: type[Any]) -> None:
    """Refuse, loudly, an aiosqlite whose internals this module was not written for.

    Checks the version and that the private parts `InlineConnection` relies on exist: the
    methods `_execute` and `stop`, and on a fresh (never opened) connection the attributes
    `_connection` and `_thread` (a `Thread`). Raises RuntimeError naming the supported versions.
    """
    problems: list[str] = []
    low, high = _SUPPORTED_RANGE
    if not low <= _release(version) < high:
        problems.append(f"aiosqlite {version} is installed")
    for method in ("_execute", "stop"):
        if not callable(getattr(connection_class, method, None)):
            problems.append(f"Connection.{method}() is missing")
    try:
        probe = connection_class(_never_opened, iter_chunk_size=64)
    except Exception as error:
        problems.append(f"Connection(connector, iter_chunk_size) failed: {error!r}")
    else:
        if not hasattr(probe, "_connection"):
            problems.append("Connection._connection is missing")
        if not isinstance(getattr(probe, "_thread", None), threading.Thread):
            problems.append("Connection._thread is not its worker thread")
    if problems:
        raise RuntimeError(
            f"db.sqlite_inline needs aiosqlite {SUPPORTED_AIOSQLITE} (tested with 0.22.1): it "
            f"overrides private parts of aiosqlite.Connection. Found: {'; '.join(problems)}. "
            f"Install a supported version (pip install 'aiosqlite{SUPPORTED_AIOSQLITE}') or check "
            "this module against the new one before widening the range."
        )


def _release(version: str) -> tuple[int, ...]:
    """The release numbers of a version string: "0.22.1" and "0.22.1.post1" give (0, 22, 1)."""
    numbers = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(n) for n in numbers.group().split(".")) if numbers else ()


def _never_opened() -> sqlite3.Connection:
    raise AssertionError("the probe connection of check_aiosqlite is never opened")


check_aiosqlite(aiosqlite.__version__, aiosqlite.Connection)

_on_worker_thread = cast("Callable[..., Awaitable[Any]]", aiosqlite.Connection._execute)
"""aiosqlite's own way of running a call: on the connection's worker thread (untyped there)."""


_off_the_loop: contextvars.ContextVar[bool] = contextvars.ContextVar("off_the_loop", default=False)


@contextlib.contextmanager
def off_the_loop() -> Iterator[None]:
    """Within this block (and the tasks it starts), statements run on the connection's worker
    thread, as plain aiosqlite does.

    For the big statements of jobs and exports (the monthly digest over a year of reports, a
    retention sweep): inline, one of them would hold the event loop for seconds and nobody would
    be answered meanwhile. On the worker thread SQLite releases the GIL while it works, so the
    loop keeps serving people; the thread hop costs microseconds, nothing beside such a statement.
    """
    token = _off_the_loop.set(True)
    try:
        yield
    finally:
        _off_the_loop.reset(token)


def is_read_only(sql: str) -> bool:
    """SELECTs need no write lock, nor a passive checkpoint (it waits for no reader or writer);
    anything else (DML, DDL, other PRAGMAs, BEGIN) is treated as a write."""
    head = sql.lstrip()[:32].upper()
    return head.startswith(("SELECT", "PRAGMA WAL_CHECKPOINT(PASSIVE)"))


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs its statements inline (see the module docstring)."""

    def __init__(
        self,
        connector: Callable[[], sqlite3.Connection],
        write_lock: asyncio.Lock,
        busy_timeout: float,
    ) -> None:
        super().__init__(connector, iter_chunk_size=64)
        # SQLAlchemy marks the thread a daemon only for connections it opens itself.
        self._thread.daemon = True
        self._write_lock = write_lock
        self._busy_timeout = busy_timeout
        self._holds_write_lock = False

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        name = getattr(fn, "__name__", "")
        statement = name in _STATEMENTS and bool(args) and isinstance(args[0], str)
        threaded = _off_the_loop.get()
        if statement and not threaded and not self._in_transaction():
            # Several tasks' statements must not add up to one long turn of the loop. Not inside
            # a write transaction: it holds the write lock, and ends in a few statements anyway.
            await yield_if_held()
        if statement and not self._holds_write_lock and not is_read_only(args[0]):
            await self._acquire_write_lock()
        try:
            if statement:
                return await self._run_retrying_busy(fn, args, kwargs, threaded=threaded)
            if threaded:
                return await _on_worker_thread(self, fn, *args, **kwargs)
            return fn(*args, **kwargs)
        finally:
            if self._holds_write_lock and not self._in_transaction():
                self._release_write_lock()

    async def _acquire_write_lock(self) -> None:
        try:
            async with asyncio.timeout(self._busy_timeout):
                await self._write_lock.acquire()
        except TimeoutError:
            # What SQLite itself says when its busy timeout runs out.
            raise sqlite3.OperationalError("database is locked") from None
        self._holds_write_lock = True

    def _release_write_lock(self) -> None:
        self._holds_write_lock = False
        self._write_lock.release()

    async def _run_retrying_busy(
        self,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        threaded: bool,
    ) -> Any:
        """Run a statement; while another process holds SQLite's lock, wait without blocking.

        Safe to repeat: a statement that got SQLITE_BUSY changed nothing. A transaction whose
        snapshot is stale (SQLITE_BUSY_SNAPSHOT) can never succeed and fails at once.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._busy_timeout
        delay = _FIRST_RETRY_DELAY
        while True:
            try:
                if threaded:
                    return await _on_worker_thread(self, fn, *args, **kwargs)
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode not in _RETRYABLE or loop.time() >= deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_DELAY)

    def _in_transaction(self) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            return connection.in_transaction
        except sqlite3.ProgrammingError:  # closed
            return False

    def stop(self) -> asyncio.Future[Any] | None:
        # A connection dropped by the pool mid-transaction must not keep the lock forever.
        if self._holds_write_lock:
            self._release_write_lock()
        return super().stop()


async def connect(
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    write_lock: asyncio.Lock,
    busy_timeout: float,
) -> InlineConnection:
    """Open a connection with the arguments SQLAlchemy's dialect derived from the URL."""
    # Used from the event loop's thread and from aiosqlite's thread (open, close).
    options = {**kwargs, "check_same_thread": False}
    connection = InlineConnection(
        lambda: sqlite3.connect(*args, **options), write_lock, busy_timeout
    )
    await connection  # starts the connection's thread and opens the database
    return connection
