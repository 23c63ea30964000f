"""Shared fixtures: a migrated database per test, on SQLite and on PostgreSQL (tests/databases)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import create_engine, session_factory
from db.migrate import upgrade_engine
from tests import databases

# python-telegram-bot 22 warns on every RetryAfter unless told to use timedeltas already; with
# warnings as errors a 429 in a test would fail on the warning instead of the behaviour.
os.environ.setdefault("PTB_TIMEDELTA", "true")

DATABASE_FIXTURES = frozenset({"engine", "session", "any_engine", "tmp_path"})
"""A test that asks for one of these reaches a database (the harness's lives in tmp_path)."""

_POSTGRES_ABSENT: list[str] = []


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that reaches a database runs on SQLite and on PostgreSQL; one that asks for
    `postgres_url` (several processes on one database) on PostgreSQL only."""
    if "postgres_url" in metafunc.fixturenames:
        metafunc.parametrize(
            "database_kind", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
        )
    elif DATABASE_FIXTURES & set(metafunc.fixturenames):
        metafunc.parametrize(
            "database_kind",
            ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
            indirect=True,
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server its half is left out with one line at the end; under CI it
    must be there, and its absence fails the run."""
    postgres = [item for item in items if item.get_closest_marker("postgres")]
    if not postgres:
        return
    reason = databases.unreachable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.exit(f"PostgreSQL is not reachable at {databases.PG_URL} ({reason})", returncode=1)
    _POSTGRES_ABSENT.append(reason)
    config.hook.pytest_deselected(items=postgres)
    items[:] = [item for item in items if not item.get_closest_marker("postgres")]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for reason in _POSTGRES_ABSENT:
        terminalreporter.write_line(
            f"PostgreSQL half skipped: not reachable at {databases.PG_URL} ({reason}); "
            "set ZHENGFENG_TEST_PG_URL to run it"
        )


def pytest_sessionfinish() -> None:
    databases.drop_template()


@pytest.fixture
def database_kind(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture(autouse=True)
def database_url(database_kind: str) -> Iterator[str | None]:
    """The test's own PostgreSQL database, migrated and empty; None on SQLite, whose file each
    test makes in its tmp_path."""
    if database_kind != "postgres":
        yield None
        return
    url = databases.create_database()
    databases.current_url = url
    try:
        yield url
    finally:
        databases.current_url = None
        databases.drop_database(url)


@pytest.fixture
def postgres_url(database_url: str | None) -> str:
    """The test's PostgreSQL database, for what only PostgreSQL can do (several processes)."""
    assert database_url is not None
    return database_url


@pytest.fixture
async def engine(
    tmp_path: os.PathLike[str], database_url: str | None
) -> AsyncIterator[AsyncEngine]:
    """A fresh database brought up by the real migrations, as production does it."""
    engine = create_engine(database_url or f"sqlite+aiosqlite:///{tmp_path}/test.db")
    await upgrade_engine(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def any_engine(engine: AsyncEngine) -> AsyncEngine:
    """The tests written for both engines before the whole suite ran on both."""
    return engine


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with session_factory(engine)() as session:
        yield session


NOW = datetime(2026, 3, 16, 2, 30, tzinfo=UTC)  # a Monday, 10:30 in Shanghai
