"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers every table on the metadata)


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    diff = compare_metadata(context, SQLModel.metadata)
    # alembic's own bookkeeping table is not a model.
    return [d for d in diff if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


async def test_models_and_migrations_agree(any_engine: AsyncEngine) -> None:
    async with any_engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []
