"""The office reviews filed submissions: accept, or return with comments for another round;
`/submission ID` shows one with all its rounds.

Review buttons only say what was pressed and on which version: every press looks the
submission up again, so a second admin's press, or a press after the unit filed again, finds a
different version and is refused politely. The unit's liaisons learn the decision through the
outbox; a return carries the comments, the resubmission due time and a button to file again.
"""

from __future__ import annotations

import json
from enum import IntEnum

from sqlmodel import col, select
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.runtime import callbacks as cb
from bot.runtime.admin import audit, require_admin
from bot.runtime.conversation import END, TEXT, conversation, stay_in
from bot.runtime.duty_labels import DECISION_LABELS, SUBMISSION_STATE_LABELS, kind_label
from bot.runtime.flow_state import chat_key, leave_other_flows, target_value
from bot.runtime.i18n import N_, Translator
from bot.runtime.input import no_longer_valid, typed_text
from bot.runtime.notices import notify_unit
from bot.runtime.period_text import period_label
from bot.runtime.render import cut, esc, fit_message, local_time
from bot.runtime.services import BotContext, Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.calendar.workdays import load_calendar
from db.cases.categories import all_categories, category_name
from db.conversations import store_state
from db.duties.filing import official_units
from db.duties.obligations import (
    AccessProblem,
    questions_of,
    review_submission,
    rounds_of,
    status_of,
)
from db.duties.rules import SubmissionProblem, filed_on_time
from db.models import (
    Department,
    DutyFile,
    Obligation,
    ReviewDecision,
    Submission,
    SubmissionRound,
    SubmissionState,
)
from db.people.roles import is_admin
from handlers.duties.filing import file_button, review_keyboard

CONVERSATION = "duty_review"
TARGETS = "duty_review.target"
"""Conversation-state rows: the submission and version an admin is typing comments for."""
COMMENT_MAX = 2000
ANSWER_MAX = 500
REFILE_LABEL = N_("File again")
PROBLEMS: dict[SubmissionProblem | AccessProblem, str] = {
    SubmissionProblem.stale: N_(
        "Submission #{id} has changed since these buttons were sent (another admin may have "
        "reviewed it, or the unit filed again). /submission {id} shows it now. Nothing was "
        "changed."
    ),
    SubmissionProblem.not_submitted: N_(
        "Submission #{id} is not waiting for review (now: {state}). Nothing was changed."
    ),
    SubmissionProblem.comment_required: N_("Please type the comments for the unit, or /cancel."),
    AccessProblem.unknown: N_("No submission has the number {id}."),
    AccessProblem.not_yours: N_("No submission has the number {id}."),
}


class State(IntEnum):
    COMMENT = 1


def _problem(
    turn: Turn,
    problem: SubmissionProblem | AccessProblem,
    submission: Submission | None,
    submission_id: int | str,
) -> str:
    state = SUBMISSION_STATE_LABELS[SubmissionState(submission.state)] if submission else ""
    return turn._(PROBLEMS[problem]).format(
        id=esc(submission_id), state=turn._(state) if state else ""
    )


def _precheck(submission: Submission, version: int) -> SubmissionProblem | None:
    """Refuse before asking for comments, not after the admin typed them."""
    if submission.version != version:
        return SubmissionProblem.stale
    if submission.state is not SubmissionState.submitted:
        return SubmissionProblem.not_submitted
    return None


async def _names(turn: Turn, submission: Submission) -> tuple[str, str]:
    obligation = await turn.session.get(Obligation, submission.obligation_id)
    unit = await turn.session.get(Department, submission.department_id)
    return (obligation.title if obligation else "—", unit.name if unit else "—")


async def _apply(
    turn: Turn, submission: Submission, decision: ReviewDecision, comment: str | None, version: int
) -> Submission | None:
    """Review, audit and tell the unit; None after saying why it was refused."""
    assert submission.id is not None
    settings = turn.services.settings
    outcome = await review_submission(
        turn.session,
        submission.id,
        decision,
        comment,
        version=version,
        reviewer_account_id=turn.account.id,
        now=turn.now,
        resubmit_days=settings.duties.resubmit_days,
        calendar=await load_calendar(turn.session),
        tz=settings.tz,
    )
    if not isinstance(outcome, Submission):
        await turn.session.refresh(submission)
        turn.say(_problem(turn, outcome, submission, submission.id))
        return None
    await audit(
        turn,
        f"duty.review.{decision.value}",
        f"submission:{submission.id}",
        before={"state": SubmissionState.submitted.value, "version": version},
        after={"state": outcome.state, "comment": comment, "rounds": outcome.rounds},
    )
    title, unit = await _names(turn, outcome)
    submission_id, period = submission.id, outcome.period
    if decision is ReviewDecision.accepted:

        def accepted(_: Translator) -> tuple[str, Keyboard | None]:
            text = _(
                "The campaign office accepted your unit's submission #{id}: {title} ({period})."
            ).format(id=submission_id, title=esc(title), period=period_label(period, _))
            return text, None

        await notify_unit(turn, outcome.department_id, accepted)
        turn.say(
            turn._("Submission #{id} ({unit}, {title}) accepted; the unit was told.").format(
                id=submission_id, unit=esc(unit), title=esc(title)
            )
        )
        return outcome
    due = local_time(outcome.resubmit_due_at, settings.tz) if outcome.resubmit_due_at else "—"

    def returned(_: Translator) -> tuple[str, Keyboard]:
        text = _(
            "The campaign office returned your unit's submission #{id}: {title} ({period}).\n"
            "Comments: {comment}\nPlease file it again by {due}."
        ).format(
            id=submission_id,
            title=esc(title),
            period=period_label(period, _),
            comment=esc(comment),
            due=due,
        )
        return text, file_button(_, submission_id, REFILE_LABEL)

    told = await notify_unit(turn, outcome.department_id, returned)
    turn.say(
        turn._(
            "Submission #{id} ({unit}, {title}) returned with your comments; it is due again "
            "by {due}. Liaisons told: {count}."
        ).format(id=submission_id, unit=esc(unit), title=esc(title), due=due, count=told)
    )
    return outcome


@turn_handler
async def decide(turn: Turn) -> int:
    """A review button: accept at once, or ask for the comments of a return."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    if not await require_admin(turn):
        return END
    fields = cb.DUTY_REVIEW.unpack(turn.callback_data)
    decision = fields["decision"] if fields else ""
    submission_id = cb.as_int(fields["submission"]) if fields else None
    version = cb.as_int(fields["version"]) if fields else None
    submission = await turn.session.get(Submission, submission_id) if submission_id else None
    if (
        submission is None
        or version is None
        or decision not in (ReviewDecision.accepted, ReviewDecision.returned)
    ):
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    problem = _precheck(submission, version)
    if problem is not None:
        message = _problem(turn, problem, submission, submission.id or "")
        turn.toast = message
        turn.clear_keyboard = True
        turn.say(message)
        return END
    turn.clear_keyboard = True
    if decision == ReviewDecision.accepted:
        await _apply(turn, submission, ReviewDecision.accepted, None, version)
        return END
    await leave_other_flows(turn, CONVERSATION)
    await store_state(
        turn.session, TARGETS, chat_key(turn), {"submission": submission.id, "version": version}
    )
    title, unit = await _names(turn, submission)
    turn.say(
        turn._(
            "Returning submission #{id} ({unit}, {title}): type the comments for the unit, what "
            "to change (1 to {max} characters). Or /cancel."
        ).format(id=submission.id, unit=esc(unit), title=esc(title), max=COMMENT_MAX)
    )
    return State.COMMENT


@turn_handler
async def take_comment(turn: Turn) -> int:
    """Return the submission with the typed comments."""
    stored = await target_value(turn.session, TARGETS, chat_key(turn))
    submission_id, version = stored.get("submission"), stored.get("version")
    submission = (
        await turn.session.get(Submission, submission_id)
        if isinstance(submission_id, int)
        else None
    )
    if submission is None or not isinstance(version, int):
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        return END
    if not await require_admin(turn):
        return END
    comment = typed_text(turn, COMMENT_MAX)
    if comment is None:
        return State.COMMENT
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    await _apply(turn, submission, ReviewDecision.returned, comment, version)
    return END


@turn_handler
async def cancel(turn: Turn) -> int:
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    turn.say(turn._("Cancelled. Nothing was changed."))
    return END


# --- /submission ID ----------------------------------------------------------------------------


def _finding_lines(item: dict[str, object], names: dict[int, str], _: Translator) -> list[str]:
    """A self-check's answer for one category, worded as the liaison's summary words it."""
    category_id = item.get("category_id")
    name = esc(names.get(category_id, "—") if isinstance(category_id, int) else "—")
    if not item.get("found"):
        return [_("✓ {category}: none found").format(category=name)]
    return [
        _("⚠ {category}: {description}").format(
            category=name, description=esc(cut(str(item.get("description") or ""), 600))
        ),
        _("Measure: {measure}; responsible: {owner}; due {due}").format(
            measure=esc(cut(str(item.get("measure") or ""), 600)),
            owner=esc(cut(str(item.get("owner") or ""), 100)),
            due=esc(str(item.get("due_on") or "—")),
        ),
    ]


def answer_lines(
    answers: str, questions: list[str], _: Translator, names: dict[int, str] | None = None
) -> list[str]:
    """A round's answers as lines. A periodic report keeps each answer with the question it
    answered (a later edit of the duty's questions does not re-pair old rounds); a self-check
    keeps a finding per category (`names`: category names by id in the reader's language)."""
    try:
        value = json.loads(answers or "[]")
    except ValueError:
        value = answers
    lines: list[str] = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict) and "category_id" in item:
                lines += _finding_lines(item, names or {}, _)
                continue
            question = questions[index] if index < len(questions) else f"{index + 1}"
            text = str(item)
            if isinstance(item, dict) and "answer" in item:
                question = str(item.get("question") or question)
                text = str(item.get("answer") or "")
            lines.append(
                _("Q: {question}\nA: {answer}").format(
                    question=esc(cut(question, 200)), answer=esc(cut(text, 600))
                )
            )
    elif isinstance(value, dict):
        lines += [f"{esc(cut(str(k), 100))}: {esc(cut(str(v), 600))}" for k, v in value.items()]
    elif value:
        lines.append(esc(cut(str(value), 600)))
    return lines


async def _round_lines(turn: Turn, filed: SubmissionRound, questions: list[str]) -> list[str]:
    _ = turn._
    tz = turn.services.settings.tz
    lines = [
        _("<b>Round {number}</b>, filed {time}").format(
            number=filed.number, time=local_time(filed.submitted_at, tz)
        )
    ]
    names = {
        c.id: category_name(c, turn.language)
        for c in await all_categories(turn.session)
        if c.id is not None
    }
    lines += answer_lines(filed.answers, questions, _, names)
    if filed.body:
        lines.append(_("Text: {body}").format(body=esc(cut(filed.body, 1000))))
    files = (
        await turn.session.exec(
            select(DutyFile).where(DutyFile.round_id == filed.id).order_by(col(DutyFile.id))
        )
    ).all()
    for item in files:
        lines.append(
            _("File: {name} ({kind}, {size} KB)").format(
                name=esc(item.file_name or item.sha256[:12]),
                kind=esc(item.kind),
                size=max(1, item.size // 1024),
            )
        )
    if filed.decision is not None and filed.reviewed_at is not None:
        lines.append(
            _("Decision: {decision}, {time}").format(
                decision=_(DECISION_LABELS[ReviewDecision(filed.decision)]),
                time=local_time(filed.reviewed_at, tz),
            )
        )
    if filed.comment:
        lines.append(_("Comments: {comment}").format(comment=esc(cut(filed.comment, 1000))))
    return lines


async def _may_see(turn: Turn, submission: Submission) -> bool:
    """Admins, and the liaisons and leaders of the submission's unit."""
    if await is_admin(turn.session, turn.account, turn.services.settings.admin_ids):
        return True
    assert turn.account.id is not None
    units = await official_units(turn.session, turn.account.id)
    return submission.department_id in units.all


@turn_handler
async def show(turn: Turn) -> None:
    """A submission with every round: answers, text, files, decisions and comments."""
    _ = turn._
    args = turn.context.args or []
    word = args[0].lstrip("#") if len(args) == 1 else ""
    submission_id = cb.as_int(word)
    if submission_id is None:
        turn.say(_("Please give the submission's number, e.g. /submission 12."))
        return
    submission = await turn.session.get(Submission, submission_id)
    if submission is None or not await _may_see(turn, submission):
        # Another unit's submission is answered like an unknown one: its existence is no one
        # else's business.
        turn.say(_(PROBLEMS[AccessProblem.unknown]).format(id=submission_id))
        return
    obligation = await turn.session.get(Obligation, submission.obligation_id)
    unit = await turn.session.get(Department, submission.department_id)
    assert obligation is not None and unit is not None
    tz = turn.services.settings.tz
    on_time = filed_on_time(status_of(submission))
    head = [
        _("<b>Submission #{id}</b>: {title} ({kind})").format(
            id=submission_id, title=esc(obligation.title), kind=kind_label(obligation.kind, _)
        ),
        _("Unit: {name} ({code}) · period {period}").format(
            name=esc(unit.name), code=esc(unit.code), period=period_label(submission.period, _)
        ),
        _("Due: {due} · now: {state}").format(
            due=local_time(submission.due_at, tz),
            state=_(SUBMISSION_STATE_LABELS[SubmissionState(submission.state)]),
        ),
    ]
    if submission.first_submitted_at is not None:
        head.append(
            _("First filed {time}, {judgement}.").format(
                time=local_time(submission.first_submitted_at, tz),
                judgement=_("on time") if on_time else _("late"),
            )
        )
    if submission.state is SubmissionState.returned and submission.resubmit_due_at:
        head.append(_("Due again by {due}.").format(due=local_time(submission.resubmit_due_at, tz)))
    questions = questions_of(submission)
    rounds = await rounds_of(turn.session, submission_id)
    body: list[str] = []
    for filed in rounds:
        body += await _round_lines(turn, filed, questions)
    if not rounds:
        body.append(_("Nothing filed yet."))
    keyboard = None
    if submission.state is SubmissionState.submitted and await is_admin(
        turn.session, turn.account, turn.services.settings.admin_ids
    ):
        keyboard = review_keyboard(_, submission)
    turn.say(fit_message(head, body), keyboard)


def build_handlers() -> list[Handler]:
    """The review conversation (a return asks for comments), then /submission."""
    review: ConversationHandler[BotContext] = conversation(
        entry_points=[CallbackQueryHandler(decide, pattern=cb.DUTY_REVIEW.pattern)],
        states={
            State.COMMENT: [MessageHandler(TEXT, take_comment), stay_in(State.COMMENT)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
    return [review, CommandHandler("submission", show, filters=filters.ChatType.PRIVATE)]
