"""Department liaisons at work: the assignment notice, 签收 (sign), 退回 (return) and 答复 (reply).

Buttons only say what was pressed: every press looks the report up again and checks that the
presser is an active liaison of the report's handling department now (`db.case_rules` decides
whether the command still applies). Liaisons never see the reporter's account, name, username or
contact unless the reporter chose real name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import IntEnum

from sqlmodel import col, select
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot import callbacks as cb
from bot.conversation import conversation
from bot.i18n import gettext_for
from bot.render import esc, local_time
from bot.turn import Keyboard, Outgoing, Turn, turn_handler
from db.case_rules import Actor, Command, RefusalReason, Refused, Reply, Return, Sign
from db.categories import category_name
from db.models import Account, Category, IdentityMode, Report, ReportState, Role, RoleGrant
from db.roles import active_roles
from db.validation import check_length, clean_text
from handlers.casekit import (
    END,
    OTHER,
    TEXT,
    apply_as,
    no_longer_valid,
    refusal,
    set_target,
    target,
)

CONVERSATION = "casework"
TARGETS = "casework.target"
"""Conversation-state rows holding the report id a liaison is typing a reason or answer for."""
REASON_MAX = 500
ANSWER_MAX = 2000

RETURNABLE = frozenset({ReportState.assigned, ReportState.signed})
REPLYABLE = frozenset({ReportState.signed, ReportState.info_requested})

log = logging.getLogger(__name__)


class State(IntEnum):
    REASON = 1
    ANSWER = 2


# --- the assignment notice ---------------------------------------------------------------------


async def notify_assignment(turn: Turn, report: Report) -> list[Outgoing]:
    """The notices for every reachable active liaison of the report's handling department."""
    department_id = report.handling_department_id
    if department_id is None or report.id is None:
        return []
    statement = (
        select(Account)
        .join(RoleGrant, col(RoleGrant.account_id) == col(Account.id))
        .where(
            col(RoleGrant.role) == Role.liaison,
            col(RoleGrant.department_id) == department_id,
            col(RoleGrant.revoked_at).is_(None),
            col(Account.unreachable).is_(False),
        )
    )
    accounts = {a.id: a for a in (await turn.session.exec(statement)).all()}
    category = await turn.session.get(Category, report.category_id)
    tz = turn.services.settings.tz
    messages = []
    for account in accounts.values():
        _ = gettext_for(account.language)
        lines = [
            _("New report assigned to your unit: <b>{number}</b>").format(number=report.number),
            _("Category: {name}").format(
                name=esc(category_name(category, account.language)) if category else "—"
            ),
            _("What happened: {text}").format(text=esc(report.description)),
        ]
        if report.time_place:
            lines.append(_("Time and place: {text}").format(text=esc(report.time_place)))
        if report.due_at is not None:
            lines.append(_("Sign for it by: {due}").format(due=local_time(report.due_at, tz)))
        if report.identity_mode is IdentityMode.real_name:
            lines.append(
                _("Reporter (real name): {name}, {phone}").format(
                    name=esc(report.reporter_name or "—"),
                    phone=esc(report.reporter_phone or "—"),
                )
            )
        keyboard: Keyboard = [
            [
                (_("Sign"), cb.CASE_SIGN.pack(report.id)),
                (_("Return"), cb.CASE_ACTION.pack("return", report.id)),
            ]
        ]
        messages.append(Outgoing(account.telegram_id, "\n".join(lines), keyboard))
    return messages


# --- checks ------------------------------------------------------------------------------------


async def _actor(turn: Turn) -> Actor:
    assert turn.account.id is not None
    grants = await active_roles(turn.session, turn.account.id)
    return Actor(
        account_id=turn.account.id,
        liaison_of=frozenset(
            g.department_id
            for g in grants
            if g.role == Role.liaison and g.department_id is not None
        ),
    )


async def _check(
    turn: Turn, report: Report, actor: Actor, allowed: frozenset[ReportState]
) -> Refused | None:
    if report.handling_department_id not in actor.liaison_of:
        return Refused(RefusalReason.not_allowed)
    if report.state not in allowed:
        return Refused(RefusalReason.wrong_state)
    return None


def _signed_card(turn: Turn, report: Report) -> tuple[str, Keyboard]:
    _ = turn._
    assert report.id is not None
    due = local_time(report.due_at, turn.services.settings.tz) if report.due_at is not None else "—"
    text = _("Report {number} signed for; answer it by {due}.").format(
        number=report.number, due=due
    )
    return text, [
        [
            (_("Reply"), cb.CASE_ACTION.pack("reply", report.id)),
            (_("Return"), cb.CASE_ACTION.pack("return", report.id)),
        ]
    ]


# --- buttons -----------------------------------------------------------------------------------


@turn_handler
async def sign(turn: Turn) -> int:
    """签收: sign for the report, after checking everything again."""
    await set_target(turn, TARGETS, None)
    fields = cb.CASE_SIGN.unpack(turn.callback_data)
    report_id = cb.as_int(fields["report"]) if fields else None
    report = await turn.session.get(Report, report_id) if report_id else None
    if report is None:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    actor = await _actor(turn)
    outcome = await _check(turn, report, actor, frozenset({ReportState.assigned}))
    if outcome is None:
        outcome = await apply_as(turn, report, Sign(), actor)
    if isinstance(outcome, Refused):
        message = await refusal(turn, report, outcome)
        turn.toast = message
        turn.say(message)
        return END
    text, keyboard = _signed_card(turn, report)
    turn.clear_keyboard = True
    turn.say(text, keyboard)
    return END


@turn_handler
async def action(turn: Turn) -> int:
    """退回 or 答复: check, then ask for the reason or the answer."""
    _ = turn._
    await set_target(turn, TARGETS, None)
    fields = cb.CASE_ACTION.unpack(turn.callback_data)
    kind = fields["action"] if fields else None
    report_id = cb.as_int(fields["report"]) if fields else None
    report = await turn.session.get(Report, report_id) if report_id else None
    if report is None or kind not in ("return", "reply"):
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    actor = await _actor(turn)
    refused = await _check(turn, report, actor, RETURNABLE if kind == "return" else REPLYABLE)
    if refused is not None:
        message = await refusal(turn, report, refused)
        turn.toast = message
        turn.say(message)
        return END
    await set_target(turn, TARGETS, report.id)
    if kind == "return":
        turn.say(
            _(
                "Report {number}: type why it does not belong to your unit (1 to {max} "
                "characters). Or /cancel."
            ).format(number=report.number, max=REASON_MAX)
        )
        return State.REASON
    turn.say(
        _(
            "Report {number}: type the answer for the reporter (1 to {max} characters). Or /cancel."
        ).format(number=report.number, max=ANSWER_MAX)
    )
    return State.ANSWER


async def _apply_typed(
    turn: Turn,
    state: State,
    maximum: int,
    allowed: frozenset[ReportState],
    command: Callable[[str], Command],
) -> tuple[Report, str] | int:
    """Apply the command made from the typed text to the target report.

    Returns the report and the text when applied; otherwise the next state, having said why.
    """
    report = await target(turn, TARGETS)
    if report is None:
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        return END
    text = clean_text(turn.text)
    if check_length(text, 1, maximum) is not None:
        turn.say(
            turn._("Please type between 1 and {max} characters, or /cancel.").format(max=maximum)
        )
        return state
    await set_target(turn, TARGETS, None)
    actor = await _actor(turn)
    outcome = await _check(turn, report, actor, allowed)
    if outcome is None:
        outcome = await apply_as(turn, report, command(text), actor)
    if isinstance(outcome, Refused):
        turn.say(await refusal(turn, report, outcome))
        return END
    return report, text


@turn_handler
async def take_reason(turn: Turn) -> int:
    """Return the report to the office with the typed reason."""
    done = await _apply_typed(turn, State.REASON, REASON_MAX, RETURNABLE, Return)
    if isinstance(done, int):
        return done
    report, _reason = done
    turn.say(
        turn._("Report {number} was returned to the campaign office.").format(number=report.number)
    )
    return END


@turn_handler
async def take_answer(turn: Turn) -> int:
    """Answer the report with the typed text and tell the reporter."""
    done = await _apply_typed(turn, State.ANSWER, ANSWER_MAX, REPLYABLE, Reply)
    if isinstance(done, int):
        return done
    report, answer = done
    turn.say(turn._("Report {number} was answered.").format(number=report.number))
    reporter = (
        await turn.session.get(Account, report.reporter_account_id)
        if report.reporter_account_id is not None
        else None
    )
    if reporter is not None and not reporter.unreachable:
        _ = gettext_for(report.language)
        text = _("Your report {number} was answered:\n\n{answer}").format(
            number=report.number, answer=esc(answer)
        )
        turn.notify([Outgoing(reporter.telegram_id, text)])
    return END


@turn_handler
async def cancel(turn: Turn) -> int:
    """Leave the step; nothing is changed."""
    await set_target(turn, TARGETS, None)
    turn.say(turn._("Cancelled. Nothing was changed."))
    return END


def build_handler() -> ConversationHandler[object]:
    def stay(state: State) -> BaseHandler[object, object, object]:
        async def reask(turn: Turn) -> State:
            turn.say(turn._("Please answer with text, or /cancel."))
            return state

        reask.__name__ = f"reask_{state.name.lower()}"
        return MessageHandler(OTHER, turn_handler(reask))

    return conversation(
        entry_points=[
            CallbackQueryHandler(sign, pattern=cb.CASE_SIGN.pattern),
            CallbackQueryHandler(action, pattern=cb.CASE_ACTION.pattern),
        ],
        states={
            State.REASON: [MessageHandler(TEXT, take_reason), stay(State.REASON)],
            State.ANSWER: [MessageHandler(TEXT, take_answer), stay(State.ANSWER)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
