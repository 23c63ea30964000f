"""/audit [NUMBER|CODE|@TELEGRAM_ID] for admins: the newest audit events, who, what, when,
before → after.

The trail is read only here and written by every admin action (`db.audit.record`); secrets
were masked before they were stored, so nothing shown here needs masking again.
"""

from __future__ import annotations

from sqlmodel import col, select
from telegram.ext import CommandHandler

from bot.runtime.admin import require_admin
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import Translator
from bot.runtime.render import MESSAGE_MAX, cut, esc, local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.audit import trail
from db.cases.categories import category_by_code
from db.cases.reports import parse_number
from db.models import Account, AuditEvent
from db.people.accounts import account_by_telegram_id
from db.people.departments import department_by_code

SHOWN = 20
VALUES_CUT = 200


async def _events_for(turn: Turn, word: str) -> tuple[list[AuditEvent], str] | None:
    """The events a typed word names, with the subject in words; None when it names nothing."""
    session = turn.session
    if word.isascii() and word.lstrip("@").isdigit():
        telegram_id = word.lstrip("@")
        about = await trail(session, subject=f"account:{telegram_id}", limit=SHOWN)
        account = await account_by_telegram_id(session, int(telegram_id))
        by = await trail(session, actor_account_id=account.id, limit=SHOWN) if account else []
        merged = {e.id: e for e in [*about, *by]}.values()
        newest = sorted(merged, key=lambda e: (e.created_at, e.id or 0), reverse=True)
        return newest[:SHOWN], turn._("ID {id}").format(id=telegram_id)
    number = parse_number(word)
    if number is not None:
        return await trail(session, subject=number, limit=SHOWN), number
    unit = await department_by_code(session, word)
    if unit is not None:
        return await trail(session, subject=unit.code, limit=SHOWN), unit.code
    category = await category_by_code(session, word)
    if category is not None:
        subject = f"category:{category.code}"
        return await trail(session, subject=subject, limit=SHOWN), subject
    return None


def _event_lines(event: AuditEvent, actors: dict[int, int], turn: Turn, _: Translator) -> str:
    actor = (
        _("ID {id}").format(id=actors[event.actor_account_id])
        if event.actor_account_id in actors
        else _("command line")
    )
    head = " · ".join(
        [
            local_time(event.created_at, turn.services.settings.tz),
            actor,
            f"<b>{esc(event.action)}</b>",
            esc(event.subject),
        ]
    )
    if event.before is None and event.after is None:
        return head
    before = esc(cut(event.before or "—", VALUES_CUT))
    after = esc(cut(event.after or "—", VALUES_CUT))
    return f"{head}\n    {before} → {after}"


async def say_audit(turn: Turn, word: str) -> None:
    """The newest events about `word` (or all of them), newest first, cut to one message."""
    _ = turn._
    if word:
        found = await _events_for(turn, word)
        if found is None:
            turn.say(
                _(
                    "{word} is no report number, unit or category code, or @ID. "
                    "Usage: /audit [NUMBER|CODE|@TELEGRAM_ID]"
                ).format(word=esc(word))
            )
            return
        events, subject = found
    else:
        events, subject = await trail(turn.session, limit=SHOWN), ""
    if not events:
        turn.say(_("No audit events yet for {subject}.").format(subject=esc(subject or "—")))
        return
    ids = {e.actor_account_id for e in events if e.actor_account_id is not None}
    accounts = (await turn.session.exec(select(Account).where(col(Account.id).in_(ids)))).all()
    actors = {a.id: a.telegram_id for a in accounts if a.id is not None}
    head = (
        _("<b>Audit trail of {subject}</b>, newest first").format(subject=esc(subject))
        if subject
        else _("<b>Audit trail</b>, newest first")
    )
    lines = [head]
    for event in events:
        line = _event_lines(event, actors, turn, _)
        if len("\n".join([*lines, line])) > MESSAGE_MAX:
            lines.append("…")
            break
        lines.append(line)
    turn.say("\n".join(lines))


@turn_handler
async def audit(turn: Turn) -> None:
    """/audit [NUMBER|CODE|@TELEGRAM_ID]: the newest admin actions, or those about one thing."""
    if await require_admin(turn):
        await say_audit(turn, " ".join(turn.context.args or []).strip())


def build_handlers() -> list[Handler]:
    return [CommandHandler("audit", audit, filters=PRIVATE)]
