"""What the admin commands share: the admin check, unit and category look-ups, their answers,
and the audit record of a change.

Every admin command and button calls `require_admin` first, on every update: a command menu or
an old button is no proof of a role, since a role can end between two presses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from bot.runtime.render import esc
from bot.runtime.turn import Turn
from db.audit import record
from db.calendar.months import parse_month, previous_month
from db.cases.categories import category_by_code
from db.models import Category, Department
from db.people.departments import department_by_code
from db.people.roles import is_admin


async def require_admin(turn: Turn) -> bool:
    """True for an admin; anyone else is told so (a toast for a button) and nothing changes."""
    if await is_admin(turn.session, turn.account, turn.services.settings.admin_ids):
        return True
    message = turn._("Sorry, only the campaign office (admins) can do this. Nothing was changed.")
    if turn.update.callback_query is not None:
        turn.toast = message
    else:
        turn.say(message)
    return False


async def unit_or_say(turn: Turn, code: str) -> Department | None:
    """The unit with this code (active or not), or None after telling the admin."""
    unit = await department_by_code(turn.session, code)
    if unit is None:
        turn.say(turn._("No unit has the code {code}. /units lists them.").format(code=esc(code)))
    return unit


async def category_or_say(turn: Turn, code: str) -> Category | None:
    """The category with this code (retired or not), or None after telling the admin."""
    category = await category_by_code(turn.session, code)
    if category is None:
        turn.say(
            turn._("No category has the code {code}. /categories lists them.").format(
                code=esc(code)
            )
        )
    return category


async def audit(
    turn: Turn,
    action: str,
    subject: str,
    before: Mapping[str, object] | None = None,
    after: Mapping[str, object] | None = None,
) -> None:
    """Record the admin's change in the turn's own transaction: both commit or neither does."""
    await record(
        turn.session,
        actor_account_id=turn.account.id,
        action=action,
        subject=subject,
        now=turn.now,
        before=before,
        after=after,
    )


def month_or_say(turn: Turn, word: str | None, usage: str) -> date | None:
    """The month `word` names (YYYY-MM; none: last month), or None after telling the admin why it
    will not do. `usage` is the command's translated hint, with an {example} month."""
    tz = turn.services.settings.tz
    last = previous_month(turn.now, tz)
    if word is None:
        return last
    try:
        month = parse_month(word)
    except ValueError:
        turn.say(usage.format(example=f"{last:%Y-%m}"))
        return None
    if month > turn.now.astimezone(tz).date():
        turn.say(turn._("Month {month} has not started yet.").format(month=esc(word)))
        return None
    return month
