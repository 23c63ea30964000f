"""延期: the campaign office approves or denies a liaison's extension request with one press.

The liaison's side (days and reason) lives in `handlers.cases.casework`. Here every press checks
again that the presser is an admin now and that the request is still pending: a second admin
pressing the same notice, or an old notice after the case moved on, gets a refusal and changes
nothing.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler

from bot.runtime import callbacks as cb
from bot.runtime.i18n import Translator
from bot.runtime.input import no_longer_valid
from bot.runtime.render import local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.cases.rules import DecideExtension, Refused
from db.models import Report
from db.people.roles import is_admin
from handlers.cases.commands import apply_as, notify_liaisons, refusal


@turn_handler
async def decide(turn: Turn) -> None:
    """Apply the admin's decision and tell the unit's liaisons."""
    _ = turn._
    fields = cb.EXTENSION_DECISION.unpack(turn.callback_data)
    decision = fields["decision"] if fields else ""
    report_id = cb.as_int(fields["report"]) if fields else None
    report = await turn.session.get(Report, report_id) if report_id else None
    if report is None or decision not in ("approve", "deny"):
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return
    if not await is_admin(turn.session, turn.account, turn.services.settings.admin_ids):
        turn.toast = _("Only the campaign office can decide on extensions. Nothing was changed.")
        return
    approve = decision == "approve"
    days = report.extension_days
    outcome = await apply_as(turn, report, DecideExtension(approve))
    turn.clear_keyboard = True
    if isinstance(outcome, Refused):
        message = await refusal(turn, report, outcome)
        turn.toast = message
        turn.say(message)
        return
    due = local_time(report.due_at, turn.services.settings.tz) if report.due_at else "—"
    if approve:
        turn.say(
            _("Extension for {number} approved; it is now due {due}.").format(
                number=report.number, due=due
            )
        )
    else:
        turn.say(_("Extension for {number} denied.").format(number=report.number))

    def build(_: Translator) -> tuple[str, Keyboard | None]:
        if approve:
            text = _(
                "The campaign office approved {days} more working days for report {number}; "
                "answer it by {due}."
            ).format(days=days, number=report.number, due=due)
        else:
            text = _(
                "The campaign office denied the extension for report {number}; the deadline "
                "stays {due}."
            ).format(number=report.number, due=due)
        return text, None

    await notify_liaisons(turn, report, build)


def build_handlers() -> list[Handler]:
    return [CallbackQueryHandler(decide, pattern=cb.EXTENSION_DECISION.pattern)]
