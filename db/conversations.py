"""Conversation positions of python-telegram-bot, stored beside the data they belong to.

The report flow writes its next state in the same transaction as the draft, so the two can never
disagree after a crash; python-telegram-bot's own persistence reads and writes the same rows.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
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


async def states_for(
    session: AsyncSession, names: Sequence[str], key: Sequence[int | str]
) -> dict[str, object]:
    """One person's positions in the named flows, in one statement (through the primary key)."""
    statement = select(ConversationState.name, ConversationState.state).where(
        col(ConversationState.name).in_(names), ConversationState.key == encode_key(key)
    )
    return {name: json.loads(state) for name, state in (await session.exec(statement)).all()}


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
    session: AsyncSession, name: str, key: Sequence[int | str], state: object | None
) -> None:
    """Record the position in one statement; None (the conversation ended) removes it."""
    encoded = encode_key(key)
    if state is None:
        await session.exec(_DELETE, params={"name": name, "key": encoded})
        return
    values = {"name": name, "key": encoded, "state": json.dumps(state), "updated_at": utcnow()}
    statement = _upsert(session.get_bind().dialect.name)
    await session.exec(statement, params=values)
