"""The rectification ledger's states as plain rules, testable without a database or Telegram:
open → (progress…) → done → confirmed, and the office's reopen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from db.models import LedgerState


class LedgerProblem(StrEnum):
    not_open = "not_open"
    """Progress and "done" belong to open items."""
    not_done = "not_done"
    """Only an item the unit marked done can be confirmed."""
    still_open = "still_open"
    """An open item cannot be reopened."""
    note_required = "note_required"
    stale = "stale"


class LedgerAction(StrEnum):
    progress = "progress"
    done = "done"
    confirm = "confirm"
    reopen = "reopen"


@dataclass(frozen=True)
class ItemStatus:
    state: LedgerState
    due_at: datetime
    reopen_count: int = 0
    done_at: datetime | None = None
    confirmed_at: datetime | None = None
    version: int = 1


def ledger_step(
    item: ItemStatus,
    action: LedgerAction,
    note: str | None,
    now: datetime,
    *,
    version: int | None = None,
) -> ItemStatus | LedgerProblem:
    """open → (progress…) → done → confirmed; the office may reopen a done or confirmed item.

    A progress note needs words; "done" and "reopen" need a note too (what was fixed, what is
    still missing), so the history reads as a ledger, not a row of ticks.
    """
    if version is not None and version != item.version:
        return LedgerProblem.stale
    if action is not LedgerAction.confirm and not (note or "").strip():
        return LedgerProblem.note_required
    bumped = item.version + 1
    if action is LedgerAction.progress:
        if item.state is not LedgerState.open:
            return LedgerProblem.not_open
        return replace(item, version=bumped)
    if action is LedgerAction.done:
        if item.state is not LedgerState.open:
            return LedgerProblem.not_open
        return replace(item, state=LedgerState.done, done_at=now, version=bumped)
    if action is LedgerAction.confirm:
        if item.state is not LedgerState.done:
            return LedgerProblem.not_done
        return replace(item, state=LedgerState.confirmed, confirmed_at=now, version=bumped)
    if item.state is LedgerState.open:
        return LedgerProblem.still_open
    return replace(
        item,
        state=LedgerState.open,
        reopen_count=item.reopen_count + 1,
        done_at=None,
        confirmed_at=None,
        version=bumped,
    )


def item_overdue(item: ItemStatus, now: datetime) -> bool:
    return item.state is LedgerState.open and now > item.due_at
