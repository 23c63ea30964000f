"""Flow positions a handler already committed during the update in hand, so that
python-telegram-bot's persistence does not write the same row again right after.

A flow's next step is stored in the handler's own transaction (`bot.runtime.flow_state`), and
then python-telegram-bot hands the same state to the persistence. Where the persistence writes
after every update (several processes on PostgreSQL, `bot.runtime.shared_state`), that second
write was a connection, a transaction and an upsert per update for nothing. The record lives
for one update only (a context variable the update's scope opens), so a position another
process wrote since can never be mistaken for this one's.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

StateKey = tuple[str, tuple[int | str, ...]]
"""A flow's name and a person's conversation key."""

_committed: contextvars.ContextVar[dict[StateKey, object] | None] = contextvars.ContextVar(
    "committed_states", default=None
)


@contextlib.contextmanager
def one_update() -> Iterator[None]:
    """Open the record for the update handled inside this block."""
    token = _committed.set({})
    try:
        yield
    finally:
        _committed.reset(token)


def committed(states: dict[StateKey, object]) -> None:
    """A handler's transaction committed these positions (no record open: nothing to do)."""
    record = _committed.get()
    if record is not None:
        record.update(states)


def already_stored(name: str, key: tuple[int | str, ...], state: object) -> bool:
    """Whether this update's handler committed exactly this position already."""
    record = _committed.get()
    if record is None:
        return False
    missing = object()
    return record.get((name, tuple(key)), missing) == state
