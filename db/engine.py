"""One engine and one session factory per process; SQLite gets WAL and foreign keys on connect.

SQLite goes through `db.sqlite_inline`: statements run on the event loop's thread and write
transactions queue on an asyncio lock, which is what makes many people typing at once cheap.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from db import sqlite_inline

SessionFactory = async_sessionmaker[AsyncSession]
BUSY_TIMEOUT_SECONDS = 10.0
"""How long a statement waits for another process's lock before "database is locked"."""


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of an on-disk SQLite file; SQLite will not create it by itself."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the bot read while a long write (an import, a backup) runs; foreign keys are off by
    # default in SQLite and we rely on them. busy_timeout is 0 because SQLite's busy handler
    # would sleep on the event loop's thread: `sqlite_inline` waits for locks in asyncio instead.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=0")
    # No checkpoint inside a commit: SQLite's automatic one runs in the committing statement,
    # inline on the loop, and while a long reader (the digest's child) keeps the WAL from being
    # reset, every commit tried again (~30 ms each on a city's database). The bot checkpoints
    # off the loop instead (`checkpoint_wal`); the last connection to close checkpoints too.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _pool_options(url: str) -> dict[str, Any]:
    if not is_sqlite(url) or make_url(url).database in (None, "", ":memory:"):
        return {}  # in-memory SQLite shares one connection (StaticPool): nothing to size
    # Up to 64 updates are handled at once (bot.updates) and each holds a session while it waits
    # for the write lock. With SQLAlchemy's default of 5 + 10 overflow, connections were opened
    # and closed all the time (a thread, four PRAGMAs each); an idle inline connection is cheap.
    # The pool's ROLLBACK on return stays: it is free inline, and a connection must never go
    # back to the pool holding the write lock.
    return {"pool_size": 32, "max_overflow": 32}


off_the_loop = sqlite_inline.off_the_loop
"""Run the statements of a big job on the connection's thread (see `db.sqlite_inline`). On
PostgreSQL it changes nothing: asyncpg waits for the server without holding the loop."""


PG_POOL_SIZE = 20
TRUSTED_FOR_SECONDS = 2.0
"""A pooled connection used this recently is taken without a ping (see `ping_when_idle`)."""


def ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled PostgreSQL connection before use only when it has lain idle.

    SQLAlchemy's `pool_pre_ping` pings at every checkout, and its asyncpg ping is three round
    trips in a transaction (BEGIN, an empty query, ROLLBACK; one query on an autocommit engine);
    an update checks out two or three connections, so under load pings were a third of the
    bot's round trips to the server (bench/load.py). As HikariCP does with its alive-bypass
    window, only a connection idle for `TRUSTED_FOR_SECONDS` is pinged. The price: when the
    server restarts, a connection used in the last two seconds is handed out unpinged and its
    statement fails (that one update gets the error answer) where a ping would have replaced it.
    A connection that does not answer its ping is reported to the pool as
    `InvalidatePoolError` (SQLAlchemy's "pessimistic" recipe, through its public events): the
    pool replaces it and every other connection it holds, which the same restart killed, before
    handing one out."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["used_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("used_at", float("-inf")) < TRUSTED_FOR_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.InvalidatePoolError("the pooled connection did not answer") from error
        record.info["used_at"] = time.monotonic()


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if not is_sqlite(url):
        # Enough connections kept open for the updates handled at once: beyond the pool,
        # SQLAlchemy opens an overflow connection per checkout and closes it after, and a
        # PostgreSQL connection costs the server a process (bench/load.py: 6% of the bot's
        # time went to connecting with the default 5).
        engine = create_async_engine(url, echo=echo, pool_size=PG_POOL_SIZE, max_overflow=10)
        ping_when_idle(engine)
        return engine
    ensure_sqlite_dir(url)
    # One write lock per engine: its connections take turns at writing in asyncio.
    write_lock = asyncio.Lock()

    async def connect() -> sqlite_inline.InlineConnection:
        # The dialect still reads the URL (file name, uri=true, ...); only the driver differs.
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        return await sqlite_inline.connect(args, kwargs, write_lock, BUSY_TIMEOUT_SECONDS)

    engine = create_async_engine(url, echo=echo, async_creator=connect, **_pool_options(url))
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def checkpoint_wal(engine: AsyncEngine) -> tuple[int, int] | None:
    """Copy what the WAL holds into the database file, on the connection's thread, without
    waiting for readers or writers (PASSIVE); returns the WAL's frames and those copied, or None
    on PostgreSQL, which needs nothing of the kind."""
    if engine.dialect.name != "sqlite":
        return None
    with off_the_loop():
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            _busy, frames, copied = tuple(result.one())
    return int(frames), int(copied)
