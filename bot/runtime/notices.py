"""Notices: messages to people other than the one of this update, each in its own language.

A notice is queued in the handler's transaction (`Turn.notify`) and sent through the outbox after
the commit, so it exists exactly when what it announces was committed.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.runtime.i18n import Translator, gettext_for
from bot.runtime.turn import Keyboard, Outgoing, OutgoingFile, Turn
from db.people.roles import Recipient, admin_recipients, department_recipients

Build = Callable[[Translator], tuple[str, Keyboard | None]]
"""Renders one notice in the recipient's language: text and optional buttons."""


def notices(
    recipients: list[Recipient],
    build: Build,
    files: tuple[OutgoingFile, ...] = (),
    *,
    urgent: bool = False,
) -> list[Outgoing]:
    messages = []
    for recipient in recipients:
        text, keyboard = build(gettext_for(recipient.language))
        messages.append(Outgoing(recipient.telegram_id, text, keyboard, files, urgent))
    return messages


async def notify_unit(turn: Turn, department_id: int, build: Build) -> int:
    """Queue a notice to every reachable liaison of the unit; returns how many."""
    recipients = await department_recipients(turn.session, department_id)
    turn.notify(notices(recipients, build))
    return len(recipients)


async def notify_admins(turn: Turn, build: Build) -> None:
    settings = turn.services.settings
    recipients = await admin_recipients(turn.session, settings.admin_ids, settings.default_language)
    turn.notify(notices(recipients, build))
