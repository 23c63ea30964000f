"""Apply Alembic migrations from code, so the CLI, `make run` and tests share one path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Synchronous entry point; must not be called from inside a running event loop."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Migrate through an existing engine (tests with in-memory SQLite need the same connection)."""

    def _run(connection: object) -> None:
        config = alembic_config(str(engine.url))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(_run)


def current_revision(connection: Connection) -> str | None:
    """The revision a database is migrated to (None: never migrated); for `run_sync`."""
    return MigrationContext.configure(connection).get_current_revision()


async def revisions(url: str) -> tuple[str | None, str]:
    """The database's migration revision (None: never migrated) and this code's head, read
    without changing anything: for a reader such as the standalone public page."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(current_revision)
    finally:
        await engine.dispose()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return current, head
