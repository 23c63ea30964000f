"""Long-lived services every handler and job needs, created once in `build_application`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application, BaseHandler, CallbackContext, ExtBot

from bot.runtime.flood import FloodGate
from bot.runtime.send_budget import SendBudget
from bot.runtime.settings import Settings
from db.engine import SessionFactory


def system_clock() -> datetime:
    return datetime.now(UTC)


class RecentlyCleared:
    """Messages whose buttons this process removed lately, at most `size` of them.

    A double tap delivers two presses of one button; the second finds the buttons gone, and
    removing them again is a call Telegram refuses ("message is not modified")."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()

    def __contains__(self, message: object) -> bool:
        return message in self._seen

    def remember(self, message: tuple[int, int]) -> None:
        self._seen[message] = None
        self._seen.move_to_end(message)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)


class OutboxDrain(Protocol):
    """What handlers and jobs ask of the outbox sender. The sender (`scheduler.delivery`) sits
    above the runtime and imports it, so the wiring plugs it in here and the runtime only knows
    this much of it."""

    wake: asyncio.Event
    """Set to make the sender look at the outbox now rather than at its next poll."""

    async def send_now(self, keys: Sequence[str]) -> object:
        """Send these rows at once, ahead of the queue (a person is waiting for them)."""
        ...

    async def drain_once(self, keys: Sequence[str] | None = None) -> object:
        """Send what is due now (or only these rows) and return."""
        ...


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    clock: Callable[[], datetime] = system_clock
    receipt_sessions: dict[int, int] = field(default_factory=dict)
    """chat id → report id of an opened receipt. Deliberately memory-only: a stored link between
    a Telegram account and a fully anonymous report is exactly what anonymity forbids."""
    sender: OutboxDrain | None = None
    """Drains the outbox; set when the application starts (`bot.app`)."""
    pending_ack_chats: set[int] = field(default_factory=set)
    """Chats with an acknowledgement Telegram has not confirmed: answered first
    (`bot.runtime.turn.deliver_pending_acks`); filled at start-up from the outbox."""
    cleared_messages: RecentlyCleared = field(default_factory=RecentlyCleared)
    """(chat id, message id) of messages whose buttons were just removed."""
    receipt_ratings: dict[int, str] = field(default_factory=dict)
    """chat id → the rating chosen in an opened receipt, while the comment is typed; memory-only
    for the same reason."""
    budget: SendBudget = field(default_factory=SendBudget)
    """Telegram's limits, shared by every call that sends (`bot.runtime.send_budget`)."""
    flood: FloodGate = field(default_factory=FloodGate)
    """Who sends faster than a person can (`bot.runtime.flood`)."""
    process_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    """This process among those sharing the database (`db.office.processes`)."""
    leading: bool = False
    """Whether this process held the scheduler's lease at its last renewal."""
    lease_until: datetime | None = None
    """Until when (`clock`) this process may run the jobs on the strength of that renewal."""
    lease_held_until: float = float("-inf")
    """The same moment by `time.monotonic()`, which no change of the wall clock moves."""

    took_lease: Callable[[], None] | None = None
    """Called when this process takes the lease (at start-up or from a leader that died): it
    schedules the catch-up runs of the daily jobs, which a moment missed by every process
    would otherwise wait a day for (`bot.app`)."""

    def runs_jobs(self) -> bool:
        """Leads, and the lease renewed last cannot have run out: a renewal that failed (the
        database unreachable) or came late (a stalled loop) must not leave this process running
        the jobs beside the one that took the lease over."""
        return (
            self.leading
            and self.lease_until is not None
            and self.clock() < self.lease_until
            and time.monotonic() < self.lease_held_until
        )

    def wake_sender(self) -> None:
        """A job queued outbox rows: send them now rather than at the sender's next poll."""
        if self.sender is not None:
            self.sender.wake.set()


SERVICES_KEY = "services"


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Callback context that exposes the services, so handlers never reach for globals."""

    @property
    def services(self) -> Services:
        return services_of(self.application)


Handler = BaseHandler[Update, BotContext, Any]
"""What every handler module builds: handlers of updates, run with our context."""


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    services = application.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services
