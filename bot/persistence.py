"""python-telegram-bot persistence kept in the product database instead of a pickle file.

Only conversation states are stored here: the answers themselves live in `report_draft`, and
user/chat/bot data are not used, so a half-typed report and its position survive together.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from bot.runtime.stored_states import already_stored
from db.conversations import load_states, store_state
from db.engine import SessionFactory
from db.loop_slices import yield_if_held

# A conversation's key as `BasePersistence` documents it (chat id, user id ...). The library
# names this type only in its private `telegram.ext._utils.types`, so it is spelled out here.
ConversationKey = tuple[int | str, ...]


class DatabasePersistence(BasePersistence[dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    def __init__(self, sessions: SessionFactory, update_interval: float = 60) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=False, callback_data=False
            ),
            update_interval=update_interval,
        )
        self._sessions = sessions

    async def get_conversations(self, name: str) -> dict[ConversationKey, object]:
        async with self._sessions() as session:
            return await load_states(session, name)

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        # python-telegram-bot flushes every conversation at once (a task each, every
        # update_interval): hundreds of them must not all run in one turn of the loop.
        await yield_if_held()
        if already_stored(name, key, new_state):
            return  # the handler's own transaction wrote it
        async with self._sessions() as session:
            await store_state(session, name, key, new_state)
            await session.commit()

    # The data stores are switched off in store_data; these satisfy the abstract interface.
    async def get_user_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_bot_data(self) -> dict[Any, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def update_user_data(self, user_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[Any, Any]) -> None:
        return None

    async def update_callback_data(self, data: object) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: dict[Any, Any]) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[Any, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None
