"""Process updates of different people at once, but each person's updates strictly in order.

ConversationHandler needs one-by-one processing per conversation, not globally: serialising per
chat keeps every conversation correct while a slow download for one person does not hold up
everybody else.

The bound on updates in progress is taken only once an update's turn in its chat has come.
python-telegram-bot's own bound (`BaseUpdateProcessor.process_update`) is taken first, so 200
updates of one person flooding the bot would hold all of it while they wait for their chat,
and nobody else would be served; hence the base class gets an unreachable bound and this one
applies its own.

While an update is handled, its chat is marked as the one a person is waiting in
(`bot.runtime.send_budget.serving`): the calls to it are replies and go before bulk messages.

On a database several processes share, each person's updates are serialised across the
processes too, and the person's conversation is read from the database for each update
(`bot.runtime.shared_state`).

The flood gate (`bot.runtime.flood`) counts each update as it arrives, before it waits for its
chat: counted when handled, a flood paced by its own replies (one a second) would never look like
one. An update past the limit is dropped here, unhandled; the one that crosses it is handled by
`handlers.update_kinds.flood_gate`, which tells the person once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.runtime.flood import FloodGate
from bot.runtime.send_budget import serving
from bot.runtime.shared_state import SharedConversations
from db.loop_slices import yield_if_held

_UNBOUNDED = 1 << 30


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 64, gate: FloodGate | None = None) -> None:
        super().__init__(_UNBOUNDED)
        self.gate = gate
        self.shared: SharedConversations | None = None
        """Set when several processes may share the database (PostgreSQL): each update then
        reads the person's conversation from it, under a lock across processes."""
        self._in_progress = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    @staticmethod
    def _key(update: object) -> int | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
        return None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        person = update.effective_user if isinstance(update, Update) else None
        if (
            self.gate is not None
            and isinstance(update, Update)
            and person is not None
            and not self.gate.arrived(person.id, update.update_id)
        ):
            if isinstance(coroutine, Coroutine):
                coroutine.close()  # never started: nothing to clean up
            return
        key = self._key(update)
        serving(key)  # this task's context only: it ends with the update
        if key is None:
            async with self._in_progress:
                await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        chat = update.effective_chat if isinstance(update, Update) else None
        try:
            async with lock, self._in_progress:
                # A batch of updates starts a task each at once: their handling must not all
                # fall in one turn of the loop (db.loop_slices). Inside the chat's lock, so one
                # person's updates keep their order.
                await yield_if_held()
                if self.shared is None or chat is None or person is None:
                    await coroutine
                    return
                async with self.shared.person(chat.id, person.id):
                    await coroutine
        finally:
            # Drop the lock once nobody waits for it, so the table does not grow per person.
            self._waiting[key] -= 1
            if self._waiting[key] == 0:
                del self._waiting[key]
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        if self.shared is not None:
            await self.shared.close()
