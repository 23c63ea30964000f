"""The databases the suite runs on: a SQLite file per test, and on PostgreSQL a database per test
copied from a template migrated once per run.

Every test that reaches a database runs twice, once per engine (`tests/conftest.py`); the
PostgreSQL half carries the `postgres` marker. A fresh database per test, not a schema: the bot
opens its own engine from a URL (`make_settings`), and a URL cannot carry a search path for
asyncpg. `CREATE DATABASE … TEMPLATE` copies the migrated template's files, which is much faster
than migrating every test's database.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

PG_URL = os.environ.get(
    "ZHENGFENG_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
"""A server and a database to connect to for creating and dropping the run's databases."""

_RUN = uuid.uuid4().hex[:8]
TEMPLATE = f"zf_{_RUN}_template"
_template_ready = False
_lock = threading.Lock()

current_url: str | None = None
"""The database of the test now running when it is PostgreSQL; None: the test's SQLite file."""


def run_aside(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on a loop of its own in another thread: fixtures are synchronous here, and
    the test's own loop may not exist yet or may be running."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def main() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def url_of(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


async def _admin(*statements: str) -> None:
    engine = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.exec_driver_sql(statement)
    finally:
        await engine.dispose()


def unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        run_aside(_admin("SELECT 1"))
    except Exception as error:  # any failure to connect means "no server here"
        return f"{type(error).__name__}: {error}"
    return None


async def _migrate_template() -> None:
    from db.engine import create_engine
    from db.migrate import upgrade_engine

    await _admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}"', f'CREATE DATABASE "{TEMPLATE}"')
    engine = create_engine(url_of(TEMPLATE))
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


def create_database() -> str:
    """A new migrated, empty database of this run; its URL."""
    global _template_ready
    with _lock:
        if not _template_ready:
            run_aside(_migrate_template())
            _template_ready = True
    name = f"zf_{_RUN}_{uuid.uuid4().hex[:10]}"
    run_aside(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    return url_of(name)


def drop_database(url: str) -> None:
    name = make_url(url).database
    run_aside(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def drop_template() -> None:
    global _template_ready
    with _lock:
        if _template_ready:
            run_aside(_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
            _template_ready = False
