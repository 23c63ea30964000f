"""`zhengfeng db copy`: move an office's database to another engine (SQLite to PostgreSQL).

Rows are copied table by table in the order of their foreign keys, a page at a time, through the
models' own table definitions, so each value is read and written by the same column types the bot
uses (UTC datetimes, JSON, enums) rather than as raw SQLite text. The target is brought to the
same migration first and must hold no rows: copying into a live database would mix two offices.
On PostgreSQL the id sequences are then set past the copied ids, or the next report would collide
with an old one. A count per table ends the copy. Attachments stay where they are: they live in
`data_dir`, not in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Integer, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import SQLModel

import db.models  # noqa: F401  (the tables must be registered on the metadata)
from db.engine import create_engine
from db.migrate import current_revision, upgrade_engine

SEEDED = frozenset({"category", "evaluator_group"})
"""Tables the migrations fill (the first writes the default categories, 0017 the evaluator
groups of seed 001): the copy replaces
their rows with the source's, which began as the same and may have been edited since."""

PAGE = 1000
"""Rows read and written per statement: memory stays flat however large a table is."""


class CopyRefused(RuntimeError):
    """The copy cannot start or did not end with the same rows on both sides."""


@dataclass(frozen=True)
class TableCopied:
    name: str
    rows: int


def _tables() -> list[Table]:
    return list(SQLModel.metadata.sorted_tables)


async def _count(connection: AsyncConnection, table: Table) -> int:
    return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def copy_database(
    source_url: str,
    target_url: str,
    on_table: Callable[[TableCopied], None] | None = None,
) -> list[TableCopied]:
    """Copy every row of `source_url` into the empty `target_url`; the rows per table."""
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        return await _copy(source, target, on_table)
    finally:
        await source.dispose()
        await target.dispose()


async def _copy(
    source: AsyncEngine, target: AsyncEngine, on_table: Callable[[TableCopied], None] | None
) -> list[TableCopied]:
    await upgrade_engine(target)
    async with source.connect() as src, target.connect() as dst:
        have, want = await src.run_sync(current_revision), await dst.run_sync(current_revision)
        if have != want:
            raise CopyRefused(
                f"the source is at migration {have}, the target at {want}: "
                "run `zhengfeng db upgrade` on the source first"
            )
        for table in _tables():
            if table.name not in SEEDED and await _count(dst, table):
                raise CopyRefused(f"the target is not empty: table {table.name} has rows")
    copied: list[TableCopied] = []
    async with source.connect() as src, target.begin() as dst:
        for table in reversed(_tables()):
            if table.name in SEEDED:
                await dst.execute(table.delete())
        for table in _tables():
            rows = await _copy_table(src, dst, table)
            copied.append(TableCopied(table.name, rows))
            if on_table is not None:
                on_table(copied[-1])
        if target.dialect.name == "postgresql":
            for table in _tables():
                await _advance_sequence(dst, table)
    async with source.connect() as src, target.connect() as dst:
        for table in _tables():
            there, here = await _count(src, table), await _count(dst, table)
            if there != here:
                raise CopyRefused(f"table {table.name}: {there} rows in the source, {here} copied")
    return copied


async def _copy_table(src: AsyncConnection, dst: AsyncConnection, table: Table) -> int:
    """Page through the source by primary key (keyset: each page is an index seek)."""
    key = list(table.primary_key.columns)
    statement = select(table).order_by(*key)
    copied = 0
    result = await src.stream(statement.execution_options(yield_per=PAGE))
    async for page in result.mappings().partitions(PAGE):
        await dst.execute(table.insert(), [dict(row) for row in page])
        copied += len(page)
    return copied


async def _advance_sequence(dst: AsyncConnection, table: Table) -> None:
    """Set an integer id's sequence past the largest copied id (PostgreSQL only)."""
    key = list(table.primary_key.columns)
    if len(key) != 1 or not isinstance(key[0].type, Integer) or key[0].autoincrement is False:
        return
    column = key[0]
    sequence = (
        await dst.execute(select(func.pg_get_serial_sequence(table.name, column.name)))
    ).scalar_one()
    if sequence is None:
        return
    largest = (await dst.execute(select(func.max(column)))).scalar_one()
    if largest is not None:
        await dst.execute(select(func.setval(sequence, largest)))
