"""Statements and tables SQLModel's typed helpers do not cover.

`sqlmodel.select` is typed for at most four columns; a scan that reads a dozen columns of many
rows (the deadline scans, the digest's report rows) builds its statement here, so it still goes
through `AsyncSession.exec` and its rows are typed as tuples.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel
from sqlmodel.sql.expression import Select

Rows = Select[*tuple[Any, ...]]
"""A statement `select_rows` built: `AsyncSession.exec` reads it as tuples."""


def select_rows(*columns: Any) -> Rows:
    """A SELECT of these columns, read as plain tuples."""
    return Select(*columns)


def table_of(model: type[SQLModel]) -> Table:
    """A model's Core table, for statements run without the unit of work. SQLModel does not
    declare `__table__` to type checkers, so the table is looked up in the metadata by name."""
    name = model.__tablename__
    assert isinstance(name, str)
    return SQLModel.metadata.tables[name]


def insert_or_skip(
    dialect: str, target: Table | type[SQLModel], keys: list[str] | None = None
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that does nothing when a row with the same `keys` (default: the primary key)
    exists: `ON CONFLICT DO NOTHING`, which both engines have, each in its own dialect class."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(target).on_conflict_do_nothing(index_elements=keys)
