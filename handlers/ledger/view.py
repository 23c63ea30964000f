"""`/ledger`: the rectification ledger (整改台账) as each role may read it.

- a liaison or leader: `/ledger` lists their unit's items; liaisons get progress/done buttons for
  open ones, leaders read only;
- `/ledger 12` (or `#12`, `整改#12`): one item with its full history and evidence, to anyone who
  may see it; anyone else is answered as for an unknown number;
- an admin: `/ledger D011` a unit's open and rectified items, `/ledger all` (or plain `/ledger`)
  every unit's, with confirm/reopen buttons on the rectified ones.
"""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.runtime.conversation import PRIVATE
from bot.runtime.render import MESSAGE_MAX, cut, esc
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.ledger.updates import LedgerRow, ledger_rows
from db.models import LedgerState, RectificationItem
from db.people.departments import department_by_code
from handlers.ledger.from_report import from_report
from handlers.ledger.items import (
    Standing,
    buttons_for,
    item_card,
    item_line,
    no_such_item,
    parse_item_number,
    standing,
)

BUTTON_ITEMS = 8
"""Items that get their buttons under a list; the others are one `/ledger ID` away."""
OFFICE_STATES = frozenset({LedgerState.open, LedgerState.done})


async def _say_list(turn: Turn, title: str, rows: list[LedgerRow], seen_by: Standing) -> None:
    """Items grouped by unit, cut to one message; buttons for the first few that have any."""
    _ = turn._
    lines = [title]
    keyboard: Keyboard = []
    with_buttons = 0
    unit_id: int | None = None
    shown = 0
    for row in rows:
        block: list[str] = []
        if row.unit.id != unit_id:
            unit_id = row.unit.id
            block.append(f"\n<b>{esc(row.unit.code)} {esc(row.unit.name)}</b>")
        block.append(await item_line(turn, row.item))
        if len("\n".join([*lines, *block])) > MESSAGE_MAX - 200:
            break
        lines += block
        shown += 1
        buttons = buttons_for(_, seen_by, row.item)
        if buttons and with_buttons < BUTTON_ITEMS:
            keyboard += buttons
            with_buttons += 1
    if shown < len(rows):
        lines.append(
            _("… {count} more not shown. /ledger ID shows one item.").format(
                count=len(rows) - shown
            )
        )
    elif with_buttons:
        lines.append(_("/ledger ID shows an item with its history."))
    turn.say("\n".join(lines), keyboard or None)


async def _say_item(turn: Turn, word: str, seen_by: Standing) -> None:
    item_id = parse_item_number(word)
    item = await turn.session.get(RectificationItem, item_id) if item_id else None
    if item is None or not seen_by.may_see(item):
        turn.say(no_such_item(turn, word))
        return
    turn.say(await item_card(turn, item), buttons_for(turn._, seen_by, item) or None)


async def _say_own(turn: Turn, seen_by: Standing) -> None:
    rows = await ledger_rows(turn.session, department_ids=seen_by.all)
    if not rows:
        turn.say(turn._("Your unit's rectification ledger has no items."))
        return
    await _say_list(turn, turn._("<b>Rectification ledger</b>"), rows, seen_by)


async def _say_office(turn: Turn, word: str, seen_by: Standing) -> None:
    if word.lower() in ("", "all"):
        rows = await ledger_rows(turn.session, department_ids=None, states=OFFICE_STATES)
        title = turn._("<b>Rectification ledger</b>: open and rectified items of every unit")
    else:
        unit = await department_by_code(turn.session, word)
        if unit is None or unit.id is None:
            turn.say(
                turn._(
                    "No unit has the code {code}. Send /ledger all, /ledger D011 or /ledger 12."
                ).format(code=esc(cut(word, 40)))
            )
            return
        rows = await ledger_rows(turn.session, department_ids=[unit.id], states=OFFICE_STATES)
        title = turn._("<b>Rectification ledger</b>: open and rectified items of {unit}").format(
            unit=esc(unit.name)
        )
    if not rows:
        turn.say(turn._("No open or rectified items."))
        return
    await _say_list(turn, title, rows, seen_by)


@turn_handler
async def ledger(turn: Turn) -> None:
    """Dispatch on the argument and on who asks."""
    words = turn.text.split(maxsplit=1)
    word = words[1].strip() if len(words) > 1 else ""
    seen_by = await standing(turn)
    if word.lower().startswith("from") and seen_by.admin:
        await from_report(turn, word[4:].strip())
        return
    if word and parse_item_number(word) is not None:
        await _say_item(turn, word, seen_by)
        return
    own = seen_by.all
    if seen_by.admin and (word or not own):
        await _say_office(turn, word, seen_by)
        return
    if own and not word:
        await _say_own(turn, seen_by)
        return
    if own or seen_by.admin:
        turn.say(no_such_item(turn, word))
        return
    turn.say(
        turn._("The rectification ledger is kept by the units' liaisons and the campaign office.")
    )


def build_handlers() -> list[Handler]:
    return [CommandHandler("ledger", ledger, filters=PRIVATE)]
