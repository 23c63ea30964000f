"""Shared fixtures: a migrated database (SQLite on disk, or the real PostgreSQL when present)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import create_engine, session_factory
from db.migrate import upgrade_engine

# python-telegram-bot 22 warns on every RetryAfter unless told to use timedeltas already; with
# warnings as errors a 429 in a test would fail on the warning instead of the behaviour.
os.environ.setdefault("PTB_TIMEDELTA", "true")

PG_URL = os.environ.get(
    "ZHENGFENG_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
async def engine(tmp_path: os.PathLike[str]) -> AsyncIterator[AsyncEngine]:
    """A fresh SQLite file brought up by the real migrations, as production does it."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/test.db")
    await upgrade_engine(engine)
    yield engine
    await engine.dispose()


async def _pg_engine() -> AsyncIterator[AsyncEngine]:
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except Exception as exc:  # any failure to connect means "no server here"
        await admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {type(exc).__name__}")
    engine = create_async_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        await upgrade_engine(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_engine(
    request: pytest.FixtureRequest, tmp_path: os.PathLike[str]
) -> AsyncIterator[AsyncEngine]:
    """The same test on SQLite and on PostgreSQL (skipped with a reason when it is absent)."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/test.db")
        await upgrade_engine(engine)
        yield engine
        await engine.dispose()
    else:
        async for engine in _pg_engine():
            yield engine


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with session_factory(engine)() as session:
        yield session


NOW = datetime(2026, 3, 16, 2, 30, tzinfo=UTC)  # a Monday, 10:30 in Shanghai
