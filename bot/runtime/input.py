"""What people type, read the same way in every flow: cleaned text within its limits, the
body of a command, a unit found by part of its name, and the answer to a stale button."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.runtime.render import button_label, esc
from bot.runtime.turn import Keyboard, Turn
from db.models import Department
from db.people.departments import search_departments
from db.validation import check_length, clean_text

UNIT_SEARCH_MAX = 50


def no_longer_valid(turn: Turn) -> str:
    return turn._("This button is no longer valid.")


def typed_text(turn: Turn, maximum: int) -> str | None:
    """The person's text, cleaned; None, having asked again, when it is empty or too long."""
    text = clean_text(turn.text)
    if check_length(text, 1, maximum) is None:
        return text
    turn.say(turn._("Please type between 1 and {max} characters, or /cancel.").format(max=maximum))
    return None


_COMMAND = re.compile(r"^\s*/\S+")


def command_body(turn: Turn) -> str:
    """The message without its leading /command (lines kept: a form spans several)."""
    return _COMMAND.sub("", turn.text, count=1).strip()


async def unit_choices(turn: Turn, pack: Callable[[Department], str]) -> Keyboard | None:
    """The units matching what the admin typed, as buttons whose data `pack` makes; None (with
    the reason said) when the text cannot be searched or matches nothing."""
    _ = turn._
    text = clean_text(turn.text)
    if not text or len(text) > UNIT_SEARCH_MAX:
        turn.say(_("Please type between 1 and 50 characters of the unit's name."))
        return None
    matches = await search_departments(turn.session, text)
    if not matches:
        turn.say(_("No unit matches “{text}”. Try other characters.").format(text=esc(text)))
        return None
    return [[(button_label(d.name), pack(d))] for d in matches]
