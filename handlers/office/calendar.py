"""/calendar for admins: the working-day calendar's gaps and the office's overrides.

The packaged Chinese calendar only knows the years published when it was released; each winter
the State Council announces next year's holidays and 调休, and the office enters them here:

    /calendar                        what is known, guessed and overridden
    /calendar off 2027-01-01 元旦     a day off
    /calendar work 2027-02-07 调休    a working day (e.g. a make-up Sunday)
    /calendar clear 2027-01-01       back to the package (or the Monday–Friday guess)
    /calendar confirm 2027           the year's exceptions are all entered
"""

from __future__ import annotations

import re
from datetime import date

from telegram.ext import CommandHandler, filters

from bot.runtime.admin import audit
from bot.runtime.render import esc
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.calendar.workdays import (
    NOTE_MAX_LENGTH,
    confirm_year,
    list_overrides,
    load_calendar,
    local_date,
    package_knows_year,
    remove_override,
    set_override,
)
from db.people.roles import is_admin

DATE = re.compile(r"^(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})$")
SHOWN_OVERRIDES = 40


def parse_day(text: str) -> date | None:
    """`2027-01-01`, `2027/1/1` or `20270101`; None for anything else, impossible dates too."""
    match = DATE.match(text.strip())
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _usage(turn: Turn) -> str:
    return turn._(
        "Usage:\n/calendar — what the calendar knows\n/calendar off 2027-01-01 元旦 — a day off\n"
        "/calendar work 2027-02-07 调休 — a working day\n/calendar clear 2027-01-01 — remove "
        "an entry\n/calendar confirm 2027 — all of the year's holidays are entered"
    )


async def _status(turn: Turn) -> str:
    _ = turn._
    calendar = await load_calendar(turn.session)
    this_year = local_date(turn.now, turn.services.settings.tz).year
    lines = [_("<b>Working-day calendar</b>")]
    for year in (this_year, this_year + 1):
        if package_knows_year(year):
            state = _("official holidays known")
        elif year in calendar.confirmed_years:
            state = _("entered by the office and confirmed")
        else:
            state = _("⚠ not known: deadlines assume Monday–Friday until its holidays are entered")
        lines.append(_("{year}: {state}").format(year=year, state=state))
    overrides = [o for o in await list_overrides(turn.session) if o.day.year >= this_year][
        :SHOWN_OVERRIDES
    ]
    if overrides:
        lines.append("")
        lines.append(_("Entries by the office:"))
        for override in overrides:
            kind = _("working day") if override.working else _("day off")
            lines.append(
                _("{day} {kind} {note}")
                .format(day=override.day.isoformat(), kind=kind, note=esc(override.note or ""))
                .rstrip()
            )
    lines += ["", _usage(turn)]
    return "\n".join(lines)


@turn_handler
async def calendar(turn: Turn) -> None:
    """Show or change the working-day calendar."""
    _ = turn._
    if not await is_admin(turn.session, turn.account, turn.services.settings.admin_ids):
        turn.say(_("Sorry, only the campaign office (admins) can change the calendar."))
        return
    args = turn.context.args or []
    if not args:
        turn.say(await _status(turn))
        return
    action, rest = args[0].lower(), args[1:]
    if (
        action == "confirm"
        and len(rest) == 1
        and rest[0].isascii()
        and rest[0].isdigit()
        and len(rest[0]) == 4
    ):
        await confirm_year(turn.session, int(rest[0]), turn.account.id)
        await audit(turn, "calendar.confirm", f"calendar:{rest[0]}")
        turn.say(
            _("{year} confirmed: its remaining days follow Monday–Friday.").format(year=rest[0])
        )
        return
    day = parse_day(rest[0]) if rest else None
    if action not in ("off", "work", "clear") or day is None:
        turn.say(
            _("I did not understand that date or action.\n\n{usage}").format(usage=_usage(turn))
        )
        return
    if action == "clear":
        removed = await remove_override(turn.session, day)
        if removed:
            await audit(turn, "calendar.clear", f"calendar:{day.isoformat()}")
        message = _("{day}: entry removed.") if removed else _("{day} had no entry.")
        turn.say(message.format(day=day.isoformat()))
        return
    note = " ".join(rest[1:]) or None
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        turn.say(_("The note may have at most {max} characters.").format(max=NOTE_MAX_LENGTH))
        return
    await set_override(turn.session, day, action == "work", note, turn.account.id)
    await audit(
        turn,
        "calendar.set",
        f"calendar:{day.isoformat()}",
        after={"working": action == "work", "note": note},
    )
    message = _("{day} is now a working day.") if action == "work" else _("{day} is now a day off.")
    turn.say(message.format(day=day.isoformat()))


def build_handlers() -> list[Handler]:
    return [CommandHandler("calendar", calendar, filters=filters.ChatType.PRIVATE)]
