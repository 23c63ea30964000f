"""Where a person stands in the typed steps of the flows, kept in the database.

A flow's next step is stored in the handler's transaction beside the draft it belongs to, so the
two cannot disagree after a crash; the object a typed step is about (a report, a submission, an
item) is stored the same way, so a reason typed after a restart still lands on the right one.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram.ext import ConversationHandler

from bot.runtime.turn import Turn
from db.conversations import state_of, store_state

OFFICIAL_FLOWS = (
    "inbox",
    "casework",
    "broadcast",
    "duty_review",
    "duty_filing",
    "ledger_update",
    "ledger_review",
    "inspection",
    "appraisal",
)
"""The conversations in which an official types for a step (a reason, an answer, a duty's
answers, a ledger note, an inspection, an evaluator's comment on a ballot). Each waits for text
until it ends, and the first one registered takes any text, so one left waiting would swallow
what is typed for a newer one."""


CITIZEN_FLOWS = ("reporter", "service_rating", "report")
"""The conversations in which anybody types for a step (a reporter's answer, a rating's reason,
a report's description). They are registered before the official flows, so one left waiting
takes the text typed for an official's step as well."""

TYPED_FLOWS = (*CITIZEN_FLOWS, *OFFICIAL_FLOWS)


def chat_key(turn: Turn) -> tuple[int, int]:
    """The conversation-state key of the person in this chat."""
    chat, user = turn.update.effective_chat, turn.update.effective_user
    assert chat is not None and user is not None
    return (chat.id, user.id)


async def remember(turn: Turn, conversation: str, state: int) -> None:
    """Store the flow's next step in the handler's transaction, beside the draft it belongs to,
    so the two cannot disagree after a crash (END removes it)."""
    key, value = chat_key(turn), None if state == ConversationHandler.END else int(state)
    await store_state(turn.session, conversation, key, value)
    turn.stored_states[(conversation, key)] = value


async def set_target(turn: Turn, name: str, target_id: int | None) -> None:
    """Remember (or forget) what a typed step is about, in the conversation-state table."""
    await store_state(turn.session, name, chat_key(turn), target_id)


async def target_value(session: AsyncSession, name: str, key: tuple[int, int]) -> dict[str, Any]:
    """A typed step's stored target as a mapping (empty when there is none or it is not one)."""
    stored = await state_of(session, name, key)
    return stored if isinstance(stored, dict) else {}


async def target_id(turn: Turn, name: str) -> int | None:
    """The id a typed step is about, as `set_target` stored it."""
    stored = await state_of(turn.session, name, chat_key(turn))
    return stored if isinstance(stored, int) else None


async def leave_other_flows(turn: Turn, keep: str, flows: Collection[str] = TYPED_FLOWS) -> None:
    """The person pressed or sent what starts the flow `keep`: their other typing flows (or the
    given `flows`) end here, so the next text goes to the step they were just asked for,
    not to a step of an older flow they left without /cancel (an inspection's unit search is
    not a return's comments). What those flows kept (drafts) stays; their own entry continues
    them."""
    key = chat_key(turn)
    for handlers in turn.context.application.handlers.values():
        for handler in handlers:
            if (
                isinstance(handler, ConversationHandler)
                and handler.name is not None
                and handler.name in flows
                and handler.name != keep
                and key in handler._conversations
            ):
                # python-telegram-bot has no public way to read or end a conversation from
                # outside it (its issues #2331 and #2770); hence the private _conversations and
                # _update_state, the exact version pinned in pyproject.toml, and
                # tests/handlers/test_conversation_internals.py failing loudly if they change.
                handler._update_state(ConversationHandler.END, key)
                await store_state(turn.session, handler.name, key, None)
                turn.stored_states[(handler.name, key)] = None
