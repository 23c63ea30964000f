"""The reporter's side of handling: answering the unit's question (补充) and rating the answer.

Reporters with a linked account press the buttons of the bot's notices; fully anonymous ones do
the same from `/receipt` (`handlers.cases.followup`), which calls the functions here with an actor
that carries no account. Either way the unit only ever sees the text, relayed as the bot's own
message, never a forward that would carry the sender.
"""

from __future__ import annotations

from enum import IntEnum

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler

from bot.runtime import callbacks as cb
from bot.runtime.conversation import END, NOT_TEXT, TEXT, conversation
from bot.runtime.flow_state import chat_key, target_value
from bot.runtime.i18n import Translator
from bot.runtime.input import no_longer_valid, typed_text
from bot.runtime.leader_notices import LeaderNews, leader_notices
from bot.runtime.notices import notify_admins
from bot.runtime.render import RATING_LABELS, esc, local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.cases.rules import Actor, AnswerInfo, Applied, Rate, Rating, RefusalReason, Refused
from db.conversations import store_state
from db.models import EventKind, Report, ReportState
from handlers.cases.casework import action_keyboard
from handlers.cases.commands import apply_as, notify_liaisons, refusal

CONVERSATION = "reporter"
TARGETS = "reporter.target"
"""Conversation-state rows: the report (and the rating chosen) the reporter is typing for."""
ANSWER_MAX = 2000
COMMENT_MAX = 500


class State(IntEnum):
    ANSWER = 1
    COMMENT = 2


# --- what both ways in share -------------------------------------------------------------------


async def answer_question(turn: Turn, report: Report, text: str, actor: Actor) -> str:
    """Apply the reporter's answer and relay it to the unit; returns what to tell the reporter."""
    outcome = await apply_as(turn, report, AnswerInfo(text), actor)
    if isinstance(outcome, Refused):
        return await refusal(turn, report, outcome)

    def build(_: Translator) -> tuple[str, Keyboard]:
        message = _("The reporter answered your question about {number}:\n\n{text}").format(
            number=report.number, text=esc(text)
        )
        return message, action_keyboard(_, report)

    await notify_liaisons(turn, report, build)
    return turn._("Thank you. Your answer was passed on to the unit handling {number}.").format(
        number=report.number
    )


async def rate(
    turn: Turn, report: Report, rating: Rating, comment: str | None, actor: Actor
) -> str:
    """Apply the rating; tell the unit (and, on a second 不满意, the office). Returns the reply."""
    outcome = await apply_as(turn, report, Rate(rating, comment), actor)
    if isinstance(outcome, Refused):
        return await refusal(turn, report, outcome)
    _ = turn._
    due = local_time(report.due_at, turn.services.settings.tz) if report.due_at else "—"
    kind = outcome.event.kind
    await _tell_officials(turn, report, outcome, rating, comment, due)
    if kind is EventKind.rated:
        settings = turn.services.settings
        turn.notify(await leader_notices(turn.session, settings, report, LeaderNews.closed, kind))
    if kind is EventKind.reopened:
        return _(
            "Report {number} goes back to the unit for renewed handling (重办); the new answer "
            "is due by {due}."
        ).format(number=report.number, due=due)
    if kind is EventKind.escalated:
        return _(
            "Report {number} is referred to the campaign office, which will look into it."
        ).format(number=report.number)
    return _("Thank you for your rating. Report {number} is closed.").format(number=report.number)


async def _tell_officials(
    turn: Turn,
    report: Report,
    outcome: Applied,
    rating: Rating,
    comment: str | None,
    due: str,
) -> None:
    kind = outcome.event.kind

    def for_unit(_: Translator) -> tuple[str, Keyboard | None]:
        lines = []
        if kind is EventKind.reopened:
            lines.append(
                _(
                    "The reporter is not satisfied with the answer to {number}: it is reopened "
                    "for renewed handling (重办). Answer again by {due}."
                ).format(number=report.number, due=due)
            )
        elif kind is EventKind.escalated:
            lines.append(
                _(
                    "The reporter is still not satisfied with the answer to {number}: it is "
                    "referred to the campaign office."
                ).format(number=report.number)
            )
        else:
            lines.append(
                _("The reporter rated the answer to {number}: {rating}. It is closed.").format(
                    number=report.number, rating=_(RATING_LABELS[rating])
                )
            )
        if comment:
            lines.append(_("Comment: {text}").format(text=esc(comment)))
        keyboard = action_keyboard(_, report) if kind is EventKind.reopened else None
        return "\n".join(lines), keyboard

    await notify_liaisons(turn, report, for_unit)
    if kind is not EventKind.escalated:
        return

    def for_office(_: Translator) -> tuple[str, Keyboard | None]:
        lines = [
            _(
                "Report {number}: the reporter is still not satisfied after renewed handling. "
                "It is back with the office: see /inbox."
            ).format(number=report.number)
        ]
        if comment:
            lines.append(_("Comment: {text}").format(text=esc(comment)))
        return "\n".join(lines), None

    await notify_admins(turn, for_office)


def rating_prompt(turn: Turn, report: Report, rating: Rating) -> tuple[str, Keyboard]:
    """Ask for the optional comment after a rating button."""
    assert report.id is not None
    _ = turn._
    text = _(
        "You chose: {rating}. Type a comment for report {number} (up to {max} characters), or "
        "press the button to rate without one."
    ).format(rating=_(RATING_LABELS[rating]), number=report.number, max=COMMENT_MAX)
    return text, [[(_("Rate without a comment"), cb.RATE_NO_COMMENT.pack(report.id))]]


# --- reporters with a linked account -----------------------------------------------------------


async def _own_report(turn: Turn, report_id: int | None) -> Report | None:
    """The report, when it is this account's own; None for anything else (forged, foreign)."""
    report = await turn.session.get(Report, report_id) if report_id else None
    if report is None or report.reporter_account_id != turn.account.id:
        return None
    return report


def _reporter(turn: Turn) -> Actor:
    return Actor(account_id=turn.account.id, is_reporter=True)


@turn_handler
async def start_answer(turn: Turn) -> int:
    """The 'answer the question' button of the relayed question."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    fields = cb.REPORTER_ANSWER.unpack(turn.callback_data)
    report = await _own_report(turn, cb.as_int(fields["report"]) if fields else None)
    if report is None:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    if report.state is not ReportState.info_requested:
        turn.clear_keyboard = True
        turn.say(await refusal(turn, report, Refused(RefusalReason.wrong_state)))
        return END
    await store_state(turn.session, TARGETS, chat_key(turn), {"report": report.id})
    turn.say(
        turn._("Type your answer for report {number} (up to {max} characters). Or /cancel.").format(
            number=report.number, max=ANSWER_MAX
        )
    )
    return State.ANSWER


@turn_handler
async def take_answer(turn: Turn) -> int:
    stored = await target_value(turn.session, TARGETS, chat_key(turn))
    report = await _own_report(turn, stored.get("report") if stored else None)
    if report is None:
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        return END
    text = typed_text(turn, ANSWER_MAX)
    if text is None:
        return State.ANSWER
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    turn.say(await answer_question(turn, report, text, _reporter(turn)))
    return END


@turn_handler
async def choose_rating(turn: Turn) -> int:
    """A rating button under the answer: remember the choice, ask for the optional comment."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    fields = cb.RATE.unpack(turn.callback_data)
    report = await _own_report(turn, cb.as_int(fields["report"]) if fields else None)
    rating = _rating(fields["rating"] if fields else None)
    if report is None or rating is None:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    turn.clear_keyboard = True
    if report.state is not ReportState.replied:
        turn.say(await refusal(turn, report, Refused(RefusalReason.wrong_state)))
        return END
    await store_state(
        turn.session, TARGETS, chat_key(turn), {"report": report.id, "rating": rating.value}
    )
    turn.say(*rating_prompt(turn, report, rating))
    return State.COMMENT


async def _finish_rating(turn: Turn, comment: str | None) -> int:
    stored = await target_value(turn.session, TARGETS, chat_key(turn))
    report = await _own_report(turn, stored.get("report") if stored else None)
    rating = _rating(stored.get("rating") if stored else None)
    if report is None or rating is None:
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        return END
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    turn.say(await rate(turn, report, rating, comment, _reporter(turn)))
    return END


@turn_handler
async def take_comment(turn: Turn) -> int:
    text = typed_text(turn, COMMENT_MAX)
    if text is None:
        return State.COMMENT
    return await _finish_rating(turn, text)


@turn_handler
async def no_comment(turn: Turn) -> int:
    turn.clear_keyboard = True
    return await _finish_rating(turn, None)


@turn_handler
async def cancel(turn: Turn) -> int:
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    turn.say(turn._("Cancelled. Nothing was changed."))
    return END


def _rating(value: object) -> Rating | None:
    return Rating(value) if value in {r.value for r in Rating} else None


def build_handler() -> Handler:
    async def reask(turn: Turn) -> State:
        turn.say(turn._("Please answer with text, or /cancel."))
        stored = await target_value(turn.session, TARGETS, chat_key(turn))
        return State.COMMENT if stored and stored.get("rating") else State.ANSWER

    again = MessageHandler(NOT_TEXT, turn_handler(reask))
    return conversation(
        entry_points=[
            CallbackQueryHandler(start_answer, pattern=cb.REPORTER_ANSWER.pattern),
            CallbackQueryHandler(choose_rating, pattern=cb.RATE.pattern),
        ],
        states={
            State.ANSWER: [MessageHandler(TEXT, take_answer), again],
            State.COMMENT: [
                MessageHandler(TEXT, take_comment),
                CallbackQueryHandler(no_comment, pattern=cb.RATE_NO_COMMENT.pattern),
                again,
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
