"""Long-lived services every handler and job needs, created once in `build_application`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram.ext import Application, CallbackContext, ExtBot

from bot.runtime.settings import Settings
from db.engine import SessionFactory

if TYPE_CHECKING:
    from scheduler.delivery.sender import OutboxSender


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    clock: Callable[[], datetime] = system_clock
    receipt_sessions: dict[int, int] = field(default_factory=dict)
    """chat id → report id of an opened receipt. Deliberately memory-only: a stored link between
    a Telegram account and a fully anonymous report is exactly what anonymity forbids."""
    sender: OutboxSender | None = None
    """Drains the outbox; set when the application starts (`bot.app`)."""
    receipt_ratings: dict[int, str] = field(default_factory=dict)
    """chat id → the rating chosen in an opened receipt, while the comment is typed; memory-only
    for the same reason."""

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


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    services = application.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services
