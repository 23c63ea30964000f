"""Conversation positions of python-telegram-bot, stored beside the data they belong to.

The report flow writes its next state in the same transaction as the draft, so the two can never
disagree after a crash; python-telegram-bot's own persistence reads and writes the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import ConversationState, utcnow

Key = tuple[Hashable, ...]


def encode_key(key: Sequence[Hashable]) -> str:
    return json.dumps(list(key))


def decode_key(text: str) -> Key:
    return tuple(json.loads(text))


async def load_states(session: AsyncSession, name: str) -> dict[Key, object]:
    rows = await session.exec(select(ConversationState).where(ConversationState.name == name))
    return {decode_key(row.key): json.loads(row.state) for row in rows.all()}


async def store_state(
    session: AsyncSession, name: str, key: Sequence[Hashable], state: object | None
) -> None:
    """Record the position in one statement; None (the conversation ended) removes it."""
    encoded = encode_key(key)
    if state is None:
        await session.exec(
            delete(ConversationState).where(  # type: ignore[call-overload]
                col(ConversationState.name) == name, col(ConversationState.key) == encoded
            )
        )
        return
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"name": name, "key": encoded, "state": json.dumps(state), "updated_at": utcnow()}
    statement = insert_fn(ConversationState).values(**values)
    await session.exec(
        statement.on_conflict_do_update(  # type: ignore[call-overload]
            index_elements=["name", "key"],
            set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
        )
    )
