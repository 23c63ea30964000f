"""Conversation positions of python-telegram-bot, stored beside the data they belong to.

The report flow writes its next state in the same transaction as the draft, so the two can never
disagree after a crash; python-telegram-bot's own persistence reads and writes the same rows.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import ConversationState, utcnow
from db.queries import table_of

Key = tuple[int | str, ...]
"""A conversation's key as python-telegram-bot builds it: chat and user ids (and strings)."""


def encode_key(key: Sequence[int | str]) -> str:
    return json.dumps(list(key))


def decode_key(text: str) -> Key:
    return tuple(json.loads(text))


async def load_states(session: AsyncSession, name: str) -> dict[Key, object]:
    rows = await session.exec(select(ConversationState).where(ConversationState.name == name))
    return {decode_key(row.key): json.loads(row.state) for row in rows.all()}


async def state_of(session: AsyncSession, name: str, key: Sequence[int | str]) -> object | None:
    """One person's position in one flow (a primary-key lookup)."""
    row = await session.get(ConversationState, (name, encode_key(key)))
    return json.loads(row.state) if row is not None else None


Target = AsyncSession | AsyncConnection
"""Where the statements run: a session, or a bare connection (the per-person lock's, which
reads and writes these rows on every update: an ORM session there cost a tenth of the bot's
time per update on PostgreSQL for nothing)."""


async def _run(target: Target, statement: sa.Executable, params: dict[str, object]) -> Any:
    if isinstance(target, AsyncConnection):
        return await target.execute(statement, params)
    # sqlmodel types `exec` per statement kind; these are a Core select, insert and delete.
    return await target.exec(statement, params=params)  # type: ignore[call-overload]


async def states_for(
    target: Target, names: Sequence[str], key: Sequence[int | str]
) -> dict[str, object]:
    """One person's positions in the named flows, in one statement (through the primary key)."""
    statement = sa.select(_STATE.c.name, _STATE.c.state).where(
        _STATE.c.name.in_(names), _STATE.c.key == encode_key(key)
    )
    rows = (await _run(target, statement, {})).all()
    return {name: json.loads(state) for name, state in rows}


_STATE = table_of(ConversationState)
# Built once: the report flow stores its position on every step, and building an upsert (with
# its `excluded` alias) cost more Python time than executing it. Core on the table, not the ORM.
_DELETE = sa.delete(_STATE).where(
    _STATE.c.name == sa.bindparam("name"), _STATE.c.key == sa.bindparam("key")
)


@functools.cache
def _upsert(dialect: str) -> sa.Insert:
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_fn(_STATE)
    return statement.on_conflict_do_update(
        index_elements=["name", "key"],
        set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
    )


async def store_state(
    target: Target, name: str, key: Sequence[int | str], state: object | None
) -> None:
    """Record the position in one statement; None (the conversation ended) removes it."""
    encoded = encode_key(key)
    if state is None:
        await _run(target, _DELETE, {"name": name, "key": encoded})
        return
    values = {"name": name, "key": encoded, "state": json.dumps(state), "updated_at": utcnow()}
    dialect = (
        target.dialect.name
        if isinstance(target, AsyncConnection)
        else target.get_bind().dialect.name
    )
    await _run(target, _upsert(dialect), values)
