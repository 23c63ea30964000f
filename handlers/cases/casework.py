"""Department liaisons at work: the assignment notice, 签收 (sign), 退回 (return) and 答复 (reply).

Buttons only say what was pressed: every press looks the report up again and checks that the
presser is an active liaison of the report's handling department now (`db.cases.rules` decides
whether the command still applies). Liaisons never see the reporter's account, name, username or
contact unless the reporter chose real name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from enum import IntEnum

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.runtime import callbacks as cb
from bot.runtime.conversation import END, MEDIA, TEXT, conversation, stay_in
from bot.runtime.flow_state import set_target
from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.input import no_longer_valid
from bot.runtime.notices import notify_admins
from bot.runtime.render import RATING_LABELS, esc, local_time
from bot.runtime.services import BotContext
from bot.runtime.turn import Keyboard, Outgoing, OutgoingFile, Turn, turn_handler
from bot.runtime.uploads import incoming_file, keep, refusal_of
from db.cases.categories import category_name
from db.cases.reports import attach_to_latest
from db.cases.rules import (
    Actor,
    Command,
    RefusalReason,
    Refused,
    Reply,
    RequestExtension,
    RequestInfo,
    Return,
    Sign,
)
from db.files import remove_if_unreferenced
from db.models import Category, Department, EventKind, IdentityMode, Report, ReportState, Role
from db.people.roles import active_roles, department_recipients
from db.validation import check_length, clean_text
from handlers.cases.commands import apply_as, notify_reporter, refusal, target

CONVERSATION = "casework"
TARGETS = "casework.target"
"""Conversation-state rows holding the report id a liaison is typing a reason or answer for."""
REASON_MAX = 500
QUESTION_MAX = 500
ANSWER_MAX = 2000
EXTENSION_TEXT = re.compile(
    r"^\s*(\d{1,3})\s*(?:个工作日|工作日|天|working days?|days?)?\s*[,，:：]?\s*(\S.*)$",
    re.DOTALL | re.IGNORECASE,
)

RETURNABLE = frozenset({ReportState.assigned, ReportState.signed})
REPLYABLE = frozenset({ReportState.signed, ReportState.info_requested})
ASKABLE = frozenset({ReportState.signed})

log = logging.getLogger(__name__)


class State(IntEnum):
    REASON = 1
    ANSWER = 2
    QUESTION = 3
    EXTENSION = 4


# --- the assignment notice ---------------------------------------------------------------------


def action_keyboard(_: Translator, report: Report) -> Keyboard:
    """The buttons of a report being handled: answer, ask, extension, return."""
    assert report.id is not None
    return [
        [
            (_("Reply"), cb.CASE_ACTION.pack("reply", report.id)),
            (_("Ask the reporter"), cb.CASE_ACTION.pack("ask", report.id)),
        ],
        [
            (_("Request extension"), cb.CASE_ACTION.pack("extend", report.id)),
            (_("Return"), cb.CASE_ACTION.pack("return", report.id)),
        ],
    ]


async def notify_assignment(turn: Turn, report: Report) -> list[Outgoing]:
    """The notices for every reachable active liaison of the report's handling department."""
    department_id = report.handling_department_id
    if department_id is None or report.id is None:
        return []
    category = await turn.session.get(Category, report.category_id)
    tz = turn.services.settings.tz
    report_id = report.id

    def build(_: Translator, language: str) -> tuple[str, Keyboard]:
        lines = [
            _("New report assigned to your unit: <b>{number}</b>").format(number=report.number),
            _("Category: {name}").format(
                name=esc(category_name(category, language)) if category else "—"
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
                (_("Sign"), cb.CASE_SIGN.pack(report_id)),
                (_("Return"), cb.CASE_ACTION.pack("return", report_id)),
            ]
        ]
        return "\n".join(lines), keyboard

    recipients = await department_recipients(turn.session, department_id)
    return [
        Outgoing(r.telegram_id, *build(gettext_for(r.language), r.language)) for r in recipients
    ]


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
    due = local_time(report.due_at, turn.services.settings.tz) if report.due_at is not None else "—"
    text = turn._("Report {number} signed for; answer it by {due}.").format(
        number=report.number, due=due
    )
    return text, action_keyboard(turn._, report)


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
    checked = await _check(turn, report, actor, frozenset({ReportState.assigned}))
    outcome = checked if checked is not None else await apply_as(turn, report, Sign(), actor)
    if isinstance(outcome, Refused):
        message = await refusal(turn, report, outcome)
        turn.toast = message
        turn.say(message)
        return END
    text, keyboard = _signed_card(turn, report)
    turn.clear_keyboard = True
    turn.say(text, keyboard)
    return END


ACTIONS: dict[str, tuple[frozenset[ReportState], str]] = {
    "return": (
        RETURNABLE,
        N_(
            "Report {number}: type why it does not belong to your unit (1 to {max} characters). "
            "Or /cancel."
        ),
    ),
    "reply": (
        REPLYABLE,
        N_(
            "Report {number}: type the answer for the reporter (1 to {max} characters). Or /cancel."
        ),
    ),
    "ask": (
        ASKABLE,
        N_(
            "Report {number}: type your question for the reporter (1 to {max} characters). The "
            "bot passes it on without your name. Or /cancel."
        ),
    ),
    "extend": (
        REPLYABLE,
        N_(
            "Report {number}: type the number of extra working days (1 to {days}) and the "
            "reason, for example: 5 需要调取监控录像. Or /cancel."
        ),
    ),
}
"""Each liaison action: the states it applies in and the prompt for the text it needs."""
STATES = {"return": 1, "reply": 2, "ask": 3, "extend": 4}


@turn_handler
async def action(turn: Turn) -> int:
    """退回, 答复, 请求补充 or 申请延期: check, then ask for the text the step needs."""
    await set_target(turn, TARGETS, None)
    fields = cb.CASE_ACTION.unpack(turn.callback_data)
    kind = fields["action"] if fields else ""
    report_id = cb.as_int(fields["report"]) if fields else None
    report = await turn.session.get(Report, report_id) if report_id else None
    if report is None or kind not in ACTIONS:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    allowed, prompt = ACTIONS[kind]
    actor = await _actor(turn)
    refused = await _check(turn, report, actor, allowed)
    if refused is not None:
        message = await refusal(turn, report, refused)
        turn.toast = message
        turn.say(message)
        return END
    await set_target(turn, TARGETS, report.id)
    maximum = QUESTION_MAX if kind == "ask" else REASON_MAX if kind == "return" else ANSWER_MAX
    turn.say(
        turn._(prompt).format(
            number=report.number,
            max=maximum,
            days=turn.services.settings.deadlines.max_extension_days,
        )
    )
    return State(STATES[kind])


async def _apply_typed(
    turn: Turn,
    state: State,
    maximum: int,
    allowed: frozenset[ReportState],
    command: Callable[[str], Command | None],
    typed: str | None = None,
) -> tuple[Report, str] | int:
    """Apply the command made from the typed text (or `typed`, a file's caption) to the target
    report.

    `command` returns None when the text cannot make one (the person is asked again). Returns
    the report and the text when applied; otherwise the next state, having said why.
    """
    report = await target(turn, TARGETS)
    if report is None:
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        return END
    text = clean_text(turn.text if typed is None else typed)
    made = command(text) if check_length(text, 1, maximum) is None else None
    if made is None:
        turn.say(
            turn._("Please type between 1 and {max} characters, or /cancel.").format(max=maximum)
        )
        return state
    await set_target(turn, TARGETS, None)
    actor = await _actor(turn)
    checked = await _check(turn, report, actor, allowed)
    outcome = checked if checked is not None else await apply_as(turn, report, made, actor)
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
    """Answer the report with the typed text, or a photo or file with the answer as its caption;
    the reporter gets it with the rating buttons."""
    message = turn.update.effective_message
    incoming = incoming_file(message) if message is not None else None
    kept = None
    if incoming is not None:
        problem = refusal_of(turn, incoming)
        if problem is None and not clean_text((message.caption if message else None) or ""):
            problem = turn._(
                "Please send the file again with the answer as its caption, or type the answer "
                "as text. Or /cancel."
            )
        if problem is not None:
            turn.say(problem)
            return State.ANSWER
        kept = await keep(turn, incoming)
        if kept is None:
            turn.say(turn._("This file is larger than allowed. Please send a smaller one."))
            return State.ANSWER
    caption = message.caption if message is not None and incoming is not None else None
    done = await _apply_typed(turn, State.ANSWER, ANSWER_MAX, REPLYABLE, Reply, caption)
    if isinstance(done, int):
        if kept is not None:
            await remove_if_unreferenced(
                turn.session, turn.services.settings.attachments_dir, [kept.path]
            )
        return done
    report, answer = done
    assert report.id is not None
    report_id = report.id
    files: tuple[OutgoingFile, ...] = ()
    if kept is not None:
        await attach_to_latest(
            turn.session,
            report_id,
            EventKind.replied,
            kind=kept.incoming.kind,
            mime_type=kept.incoming.mime_type,
            size=kept.size,
            sha256=kept.sha256,
            path=kept.path,
            file_name=kept.incoming.file_name,
        )
        files = (OutgoingFile(kept.incoming.kind, kept.incoming.file_id),)
    turn.say(turn._("Report {number} was answered.").format(number=report.number))

    def build(_: Translator) -> tuple[str, Keyboard]:
        text = _(
            "Your report {number} was answered:\n\n{answer}\n\nHow satisfied are you with "
            "the answer?"
        ).format(number=report.number, answer=esc(answer))
        return text, rating_keyboard(_, report_id)

    await notify_reporter(turn, report, build, files)
    return END


def rating_keyboard(_: Translator, report_id: int) -> Keyboard:
    return [
        [
            (_(label), cb.RATE.pack(rating.value, report_id))
            for rating, label in RATING_LABELS.items()
        ]
    ]


@turn_handler
async def take_question(turn: Turn) -> int:
    """请求补充: pass the question on to the reporter, as the bot's own message."""
    done = await _apply_typed(turn, State.QUESTION, QUESTION_MAX, ASKABLE, RequestInfo)
    if isinstance(done, int):
        return done
    report, question = done
    assert report.id is not None
    report_id = report.id

    def build(_: Translator) -> tuple[str, Keyboard]:
        text = _(
            "The unit handling your report {number} asks:\n\n{question}\n\nPress the button "
            "to answer."
        ).format(number=report.number, question=esc(question))
        return text, [[(_("Answer the question"), cb.REPORTER_ANSWER.pack(report_id))]]

    if await notify_reporter(turn, report, build):
        turn.say(turn._("Your question about {number} was sent.").format(number=report.number))
    else:
        turn.say(
            turn._(
                "Your question about {number} was recorded. The reporter cannot be messaged "
                "(fully anonymous or unreachable): they will see it when they next open the "
                "report."
            ).format(number=report.number)
        )
    return END


def parse_extension(text: str) -> RequestExtension | None:
    """`5 理由…` → 5 working days with that reason; None when it does not read that way."""
    match = EXTENSION_TEXT.match(text)
    if match is None:
        return None
    return RequestExtension(int(match.group(1)), match.group(2))


@turn_handler
async def take_extension(turn: Turn) -> int:
    """申请延期: record the request; the admins decide with buttons."""
    done = await _apply_typed(turn, State.EXTENSION, REASON_MAX, REPLYABLE, parse_extension)
    if isinstance(done, int):
        if done == State.EXTENSION:
            turn.replies.clear()
            turn.say(
                turn._(
                    "Please type the number of working days (1 to {days}) and then the reason, "
                    "for example: 5 需要调取监控录像. Or /cancel."
                ).format(days=turn.services.settings.deadlines.max_extension_days)
            )
        return done
    report, _text = done
    turn.say(
        turn._(
            "Extension requested for {number}. The campaign office will decide; you will be told."
        ).format(number=report.number)
    )
    await notify_extension_request(turn, report)
    return END


async def notify_extension_request(turn: Turn, report: Report) -> None:
    assert report.id is not None and report.extension_days is not None
    department = (
        await turn.session.get(Department, report.handling_department_id)
        if report.handling_department_id is not None
        else None
    )
    tz = turn.services.settings.tz
    report_id, days = report.id, report.extension_days
    due = local_time(report.due_at, tz) if report.due_at is not None else "—"

    def build(_: Translator) -> tuple[str, Keyboard]:
        text = _(
            "{unit} asks to extend report {number} by {days} working days (due now: {due}).\n"
            "Reason: {reason}"
        ).format(
            unit=esc(department.name if department else "—"),
            number=report.number,
            days=days,
            due=due,
            reason=esc(report.extension_reason or ""),
        )
        return text, [
            [
                (_("Approve"), cb.EXTENSION_DECISION.pack("approve", report_id)),
                (_("Deny"), cb.EXTENSION_DECISION.pack("deny", report_id)),
            ]
        ]

    await notify_admins(turn, build)


@turn_handler
async def cancel(turn: Turn) -> int:
    """Leave the step; nothing is changed."""
    await set_target(turn, TARGETS, None)
    turn.say(turn._("Cancelled. Nothing was changed."))
    return END


def build_handler() -> ConversationHandler[BotContext]:
    return conversation(
        entry_points=[
            CallbackQueryHandler(sign, pattern=cb.CASE_SIGN.pattern),
            CallbackQueryHandler(action, pattern=cb.CASE_ACTION.pattern),
        ],
        states={
            State.REASON: [MessageHandler(TEXT, take_reason), stay_in(State.REASON)],
            State.ANSWER: [MessageHandler(TEXT | MEDIA, take_answer), stay_in(State.ANSWER)],
            State.QUESTION: [MessageHandler(TEXT, take_question), stay_in(State.QUESTION)],
            State.EXTENSION: [MessageHandler(TEXT, take_extension), stay_in(State.EXTENSION)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
