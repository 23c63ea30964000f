"""What the office's duty flows share: telling a unit's liaisons, and reading args of a command
whose form spans several lines."""

from __future__ import annotations

import re

from bot import callbacks as cb
from bot.i18n import Translator
from bot.turn import Keyboard, Turn
from db.roles import department_recipients
from handlers.casekit import Build, notices

_COMMAND = re.compile(r"^\s*/\S+")


def command_body(turn: Turn) -> str:
    """The message without its leading /command (lines kept: a form spans several)."""
    return _COMMAND.sub("", turn.text, count=1).strip()


async def notify_unit(turn: Turn, department_id: int, build: Build) -> int:
    """Queue a notice to every reachable liaison of the unit; returns how many."""
    recipients = await department_recipients(turn.session, department_id)
    turn.notify(notices(recipients, build))
    return len(recipients)


def file_button(_: Translator, submission_id: int, label: str) -> Keyboard:
    """The liaison's button to file a submission (the filing flow answers it)."""
    return [[(_(label), cb.DUTY_OPEN.pack(submission_id))]]
