"""`/duties` for a department's liaisons and leaders: what each of their units owes and where it
stands, with a button to file each open one; and the filing conversation that button enters.

Only `/duties` without arguments is answered here: `/duties status` is the office's matrix and
has a handler of its own. Leaders read the list; only liaisons file.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler

from bot.runtime import callbacks as cb
from bot.runtime.conversation import PRIVATE, conversation
from bot.runtime.flow_state import leave_other_flows
from bot.runtime.i18n import N_
from bot.runtime.period_text import period_label
from bot.runtime.render import button_label, cut, esc, local_time
from bot.runtime.services import BotContext, Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.calendar.workdays import load_calendar
from db.duties.filing import DutyStatus, duty_status, official_units, unit_duties, working_due
from db.duties.filing_drafts import FilingDraft, load_filing_draft, save_filing_draft
from db.duties.obligations import open_submissions
from db.models import Department, ObligationKind
from handlers.duties import periodic_report, self_check
from handlers.duties.filing import (
    CONVERSATION,
    cancel,
    filing_of,
    fit_lines,
    openable,
    remember_step,
    set_filing,
)

TOAST_MAX = 200
MAX_BUTTONS = 50
"""Telegram allows 100 buttons a message; a unit owing more than this has other problems."""

LINES: dict[DutyStatus, str] = {
    DutyStatus.due: N_("• {title} ({period}): due, file by {due}"),
    DutyStatus.overdue: N_("• {title} ({period}): overdue, it was due {due}"),
    DutyStatus.submitted: N_("• {title} ({period}): submitted {when}, awaiting review"),
    DutyStatus.returned: N_("• {title} ({period}): returned, file again by {due}"),
    DutyStatus.accepted: N_("• {title} ({period}): accepted {when}"),
}
OPEN = frozenset({DutyStatus.due, DutyStatus.overdue, DutyStatus.returned})


@turn_handler
async def show_duties(turn: Turn) -> None:
    """One message per unit the person serves, opening any period that has begun first."""
    _ = turn._
    units = await official_units(turn.session, turn.account_id)
    if not units.all:
        turn.say(
            _(
                "/duties lists what a unit owes to the campaign office. It is for the "
                "liaisons and leaders of units; your account holds neither role."
            )
        )
        return
    settings = turn.services.settings
    await open_submissions(turn.session, turn.now, await load_calendar(turn.session), settings.tz)
    for department_id in units.all:
        unit = await turn.session.get(Department, department_id)
        assert unit is not None
        can_file = department_id in units.liaison_of
        head = [_("<b>{unit}</b>: what the unit owes").format(unit=esc(unit.name))]
        lines: list[str] = []
        keyboard: Keyboard = []
        for submission, obligation in await unit_duties(turn.session, department_id):
            status = duty_status(submission, turn.now)
            when = submission.accepted_at or submission.submitted_at
            title = esc(obligation.title)
            period = period_label(submission.period, _)
            lines.append(
                _(LINES[status]).format(
                    title=title,
                    period=period,
                    due=local_time(working_due(submission), settings.tz),
                    when=local_time(when, settings.tz) if when else "—",
                )
            )
            if can_file and status in OPEN and submission.id is not None:
                label = _("File: {title} ({period})").format(title=obligation.title, period=period)
                keyboard.append([(button_label(label), cb.DUTY_OPEN.pack(submission.id))])
        if not lines:
            lines.append(_("Nothing is owed at the moment."))
        if not can_file:
            lines += ["", _("You can read this list; the unit's liaisons file the duties.")]
        turn.say(fit_lines(head, lines), keyboard[:MAX_BUTTONS] or None)


@turn_handler
async def open_submission(turn: Turn) -> int | None:
    """DUTY_OPEN: start or continue filing a submission, after checking it is the presser's
    unit's and still open. A refusal leaves any filing in progress where it was."""
    fields = cb.DUTY_OPEN.unpack(turn.callback_data)
    submission_id = cb.as_int(fields["submission"]) if fields else None
    checked = await openable(turn, submission_id)
    if isinstance(checked, str):
        turn.toast = cut(checked, TOAST_MAX)
        turn.say(checked)
        return None
    submission, obligation = checked
    assert submission.id is not None
    await leave_other_flows(turn, CONVERSATION)
    loaded = await load_filing_draft(turn.session, turn.account_id, submission.id)
    draft = loaded[0] if loaded is not None else FilingDraft(submission_id=submission.id)
    filing = await filing_of(turn, submission, obligation, draft)
    await set_filing(turn, submission.id)
    flow = self_check if obligation.kind == ObligationKind.self_check else periodic_report
    state = await flow.begin(turn, filing, resumed=loaded is not None)
    await save_filing_draft(turn.session, turn.account_id, draft, turn.now)
    await remember_step(turn, state)
    return state


def build_handler() -> ConversationHandler[BotContext]:
    return conversation(
        entry_points=[CallbackQueryHandler(open_submission, pattern=cb.DUTY_OPEN.pattern)],
        states={**periodic_report.states(), **self_check.states()},
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )


def build_handlers() -> list[Handler]:
    # has_args=False: `/duties status` belongs to the office's matrix.
    return [CommandHandler("duties", show_duties, filters=PRIVATE, has_args=False)]
