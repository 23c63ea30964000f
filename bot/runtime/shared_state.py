"""A person's conversation read from the database for every update, one process at a time.

On SQLite one process serves the file, and python-telegram-bot's in-memory conversation states
are the truth between two writes. When several processes share a PostgreSQL database, a
person's next update may reach any of them, so each process:

1. takes a PostgreSQL advisory lock on the person's chat, on a connection of its own, for the
   whole update: two updates of one person that reach two processes at once are handled one
   after the other (a dropped connection releases the lock);
2. reloads that person's positions in every persistent flow from the database into the flows
   (what another process wrote since is what counts), and, in the same statement, what the
   processes spent of Telegram's per-chat limit in this chat (written back at the end when
   this update sent there), so one chat keeps one pace whichever process answers;
3. handles the update, then writes what the flows changed (python-telegram-bot's persistence,
   through its public `update_persistence`) before releasing the lock, so the next process
   reads it and no delayed write of this one overwrites a later one of another; a position the
   handler already committed in its own transaction is not written twice
   (`bot.runtime.stored_states`).

python-telegram-bot has no public way to set a conversation's state from outside (its issues
#2331 and #2770): step 2 writes the handler's private `_conversations` mapping without marking
it changed (`update_no_track`, and `data` for a removal), as `bot.runtime.flow_state` does;
the version is pinned in pyproject.toml and tests/handlers/test_conversation_internals.py
fails loudly if the internals change.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from telegram.ext import ConversationHandler

from bot.runtime.send_budget import ChatPace, SendBudget
from bot.runtime.stored_states import one_update
from db.conversations import states_for, store_state
from db.engine import ping_when_idle

PACE = "_chat_pace"
"""The conversation-state row that holds a person's chat pace (`ChatPace`) between processes:
read in the same statement as their flow positions, under the same lock."""

LOCK_CONNECTIONS = 20
"""Connections for the per-person locks, apart from the bot's pool (a handler holding a lock
still gets its own connection): at most this many people are handled at once per process."""


class SharedConversations:
    def __init__(self, application: Any, engine: AsyncEngine) -> None:
        self.application = application
        # Autocommit: a lock, a read and an unlock are three round trips, with no BEGIN and
        # COMMIT around them (a session-level advisory lock needs no transaction).
        self.locks = create_async_engine(
            engine.url,
            pool_size=LOCK_CONNECTIONS,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
        )
        ping_when_idle(self.locks)
        self._flows: list[ConversationHandler[Any]] | None = None

    def flows(self) -> list[ConversationHandler[Any]]:
        if self._flows is None:
            self._flows = [
                handler
                for group in self.application.handlers.values()
                for handler in group
                if isinstance(handler, ConversationHandler) and handler.persistent
            ]
        return self._flows

    @contextlib.asynccontextmanager
    async def person(self, chat_id: int, user_id: int) -> AsyncIterator[None]:
        async with self.locks.connect() as lock:
            await lock.execute(text("SELECT pg_advisory_lock(:chat)"), {"chat": chat_id})
            try:
                key = (chat_id, user_id)
                pace = await self._reload(lock, key)
                with one_update():
                    yield
                    await self.application.update_persistence()
                await self._store_pace(lock, key, pace)
            finally:
                await lock.execute(text("SELECT pg_advisory_unlock(:chat)"), {"chat": chat_id})

    def _budget(self) -> SendBudget | None:
        services = self.application.bot_data.get("services")
        return services.budget if services is not None else None

    async def _reload(self, lock: AsyncConnection, key: tuple[int, int]) -> ChatPace | None:
        """Load the person's flow positions into the flows, and their chat's pace (what other
        processes spent of Telegram's per-chat limit) into the send budget; returns the pace as
        it stands after the merge, to tell at the end whether this update spent any."""
        flows = self.flows()
        names = [flow.name for flow in flows if flow.name]
        # On the lock's connection: no second connection for a one-row read.
        states = await states_for(lock, [*names, PACE], key)
        budget, chat = self._budget(), key[0]
        pace: ChatPace | None = None
        stored = states.pop(PACE, None)
        if budget is not None and chat > 0 and budget.chat_interval > 0:
            if isinstance(stored, dict):
                with contextlib.suppress(TypeError):  # a row of an older shape: start afresh
                    budget.merge_chat_pace(chat, ChatPace(**stored))
            pace = budget.chat_pace(chat)
        for flow in flows:
            conversations = flow._conversations
            if flow.name in states:
                conversations.update_no_track({key: states[flow.name]})  # type: ignore[attr-defined]
            else:
                conversations.data.pop(key, None)  # type: ignore[attr-defined]
        return pace

    async def _store_pace(
        self, lock: AsyncConnection, key: tuple[int, int], before: ChatPace | None
    ) -> None:
        """Write the chat's pace back when this update sent to the chat or was paused there, so
        the process that gets the person's next update spends from the same bucket."""
        budget = self._budget()
        if budget is None or before is None:
            return
        after = budget.chat_pace(key[0])
        refilled = (after.wall - before.wall) / budget.chat_interval
        unspent = min(float(budget.chat_burst), before.tokens + refilled)
        if after.tokens >= unspent - 1e-6 and after.paused_until <= before.paused_until:
            return
        await store_state(lock, PACE, key, dataclasses.asdict(after))

    async def close(self) -> None:
        await self.locks.dispose()
