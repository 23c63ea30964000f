"""An evaluator's ballot: the round's units one by one, a row of 1..5 per dimension, an optional
comment, or 没有接触过 to skip a unit; and `/rate_round` to see the marks given and redo one.

One message is edited at each press. The marks given so far travel in the button (a digit per
dimension), so a half-rated unit stores nothing; the ballot is written when its last dimension
is pressed (`db.appraisal.ballots.cast_ballot`, which checks the round, the evaluator's grant,
the unit and every mark again). A typed comment is the one typed step; it is kept with the
ballot's round and unit in the conversation-state table, so it lands on the right ballot after a
restart too.
"""

from __future__ import annotations

from enum import IntEnum

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler

from bot.runtime import callbacks as cb
from bot.runtime.conversation import END, NOT_TEXT, PRIVATE, TEXT, conversation
from bot.runtime.flow_state import chat_key, leave_other_flows, target_value
from bot.runtime.i18n import N_
from bot.runtime.input import typed_text
from bot.runtime.render import MESSAGE_MAX, button_label, esc, fit_lines, local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.appraisal.ballots import (
    COMMENT_MAX,
    BallotProblem,
    Rater,
    ballots_by_unit,
    cast_ballot,
    in_round,
    marks_fit,
    rater,
    set_comment,
)
from db.appraisal.results import dimensions_of, scores_of
from db.appraisal.rounds import open_rounds_for, round_units
from db.conversations import store_state
from db.models import AppraisalRound, Ballot, Department

CONVERSATION = "appraisal"
TARGETS = "appraisal.target"
"""Conversation-state rows: the round and unit whose comment the evaluator is typing."""

PROBLEMS: dict[BallotProblem, str] = {
    BallotProblem.unknown_round: N_(
        "You are not an evaluator of this appraisal round. Nothing was changed."
    ),
    BallotProblem.not_invited: N_(
        "You are not (or no longer) an evaluator of this appraisal round. Nothing was changed."
    ),
    BallotProblem.closed: N_(
        "This appraisal round is closed; ballots can no longer be cast or changed. Nothing was "
        "changed."
    ),
    BallotProblem.unknown_unit: N_("That unit is not rated in this round. Nothing was changed."),
    BallotProblem.bad_marks: N_("That mark is not on this round's scale. Nothing was changed."),
    BallotProblem.no_ballot: N_(
        "Please rate the unit before commenting on it. Nothing was changed."
    ),
}
UNIT_BUTTONS_MAX = 90
"""Telegram takes at most 100 buttons under a message; a round of more units than this shows
the rest through the "rate next" button as the evaluator goes."""
NOT_MET = N_("Never dealt with this unit")
SKIP_COMMENT = N_("Skip")


class State(IntEnum):
    COMMENT = 1


def _refuse(turn: Turn, problem: BallotProblem) -> None:
    turn.clear_keyboard = True
    turn.say(turn._(PROBLEMS[problem]))


def _marks_text(round_: AppraisalRound, marks: list[int]) -> str:
    return " · ".join(
        f"{esc(name)} {mark}" for name, mark in zip(dimensions_of(round_), marks, strict=False)
    )


def _ballot_text(turn: Turn, round_: AppraisalRound, ballot: Ballot | None) -> str:
    """How the unit was rated so far: its marks, 没有接触过, or —."""
    if ballot is None:
        return "—"
    marks = scores_of(ballot)
    if marks is None:
        return turn._(NOT_MET)
    return _marks_text(round_, marks)


async def _overview(turn: Turn, found: Rater) -> None:
    """The round's units with the marks given: continue with the next, or redo one."""
    _ = turn._
    round_ = found.round
    assert round_.id is not None
    units = await round_units(turn.session, round_.id)
    ballots = await ballots_by_unit(turn.session, round_.id, turn.account_id)
    done = sum(1 for unit in units if unit.id in ballots)
    lines = [
        _(
            "<b>{title}</b> ({period}): you rated {done} of {units} units; open until {close}."
        ).format(
            title=esc(round_.title),
            period=esc(round_.period),
            done=done,
            units=len(units),
            close=local_time(round_.closes_at, turn.services.settings.tz),
        )
    ]
    keyboard: Keyboard = []
    following = next((unit for unit in units if unit.id not in ballots), None)
    if following is not None and following.id is not None:
        keyboard.append(
            [
                (
                    _("Rate next: {unit}").format(unit=button_label(following.name)),
                    cb.ROUND_UNIT.pack(round_.id, following.id),
                )
            ]
        )
    head = "\n".join(
        [*lines, _("Press a unit to rate it again:") if done else _("Or choose a unit:")]
    )
    rows: list[str] = []
    for unit in units:
        assert unit.id is not None
        mark = "✓" if unit.id in ballots else "·"
        rows.append(
            turn._("{mark} {unit}: {marks}").format(
                mark=mark,
                unit=esc(unit.name),
                marks=_ballot_text(turn, round_, ballots.get(unit.id)),
            )
        )
        if len(keyboard) < UNIT_BUTTONS_MAX:
            keyboard.append(
                [(f"{mark} {button_label(unit.name)}", cb.ROUND_UNIT.pack(round_.id, unit.id))]
            )
    text = fit_lines(
        head,
        rows,
        lambda left: _("… and {count} more.").format(count=left),
        lambda whole: len(whole) <= MESSAGE_MAX,
    )
    turn.say(text, keyboard)


def _dimension_prompt(
    turn: Turn, round_: AppraisalRound, unit: Department, marks: list[int], before: str | None
) -> None:
    """Ask for the next dimension's mark: a row of 1..top, and 没有接触过."""
    _ = turn._
    assert round_.id is not None and unit.id is not None
    names = dimensions_of(round_)
    index = len(marks)
    lines = [f"<b>{esc(unit.name)}</b>"]
    if before is not None:
        lines.append(_("Your ballot now: {marks}").format(marks=before))
    if marks:
        lines.append(_marks_text(round_, marks))
    lines.append(
        _("{number}/{total} <b>{dimension}</b>: 1 (poor) to {top} (very good)?").format(
            number=index + 1, total=len(names), dimension=esc(names[index]), top=round_.scale_max
        )
    )
    digits = "".join(str(m) for m in marks)
    row = [
        (str(value), cb.BALLOT_MARK.pack(round_.id, unit.id, f"{digits}{value}"))
        for value in range(1, round_.scale_max + 1)
    ]
    turn.say("\n".join(lines), [row, [(_(NOT_MET), cb.BALLOT_SKIP.pack(round_.id, unit.id))]])


async def _next_unit(turn: Turn, found: Rater, done_text: str) -> None:
    """After a unit: the next unrated one, or the end of the ballot."""
    _ = turn._
    round_ = found.round
    assert round_.id is not None
    units = await round_units(turn.session, round_.id)
    ballots = await ballots_by_unit(turn.session, round_.id, turn.account_id)
    following = next((unit for unit in units if unit.id not in ballots), None)
    if turn.update.callback_query is not None:
        turn.pressed_becomes = done_text
    else:
        turn.say(done_text)
    if following is None:
        turn.say(
            _(
                "You have rated all {units} units. Thank you! You can change a ballot until "
                "{close}: /rate_round."
            ).format(
                units=len(units), close=local_time(round_.closes_at, turn.services.settings.tz)
            ),
            [[(_("My ballots"), cb.ROUND_OPEN.pack(round_.id))]],
        )
        return
    _dimension_prompt(turn, round_, following, [], None)


async def _done_line(turn: Turn, round_: AppraisalRound, unit_id: int) -> str:
    """What the evaluator gave a unit, for the message the next unit replaces."""
    assert round_.id is not None
    unit = await turn.session.get(Department, unit_id)
    ballots = await ballots_by_unit(turn.session, round_.id, turn.account_id)
    return turn._("✓ <b>{unit}</b>: {marks}").format(
        unit=esc(unit.name if unit else ""),
        marks=_ballot_text(turn, round_, ballots.get(unit_id)),
    )


async def _unit_of(turn: Turn, round_id: int, unit_id: int | None) -> Department | None:
    if unit_id is None or not await in_round(turn.session, round_id, unit_id):
        return None
    return await turn.session.get(Department, unit_id)


async def _found(turn: Turn, round_id: int | None) -> Rater | None:
    if round_id is None:
        _refuse(turn, BallotProblem.unknown_round)
        return None
    found = await rater(turn.session, round_id, turn.account_id, turn.now)
    if isinstance(found, BallotProblem):
        _refuse(turn, found)
        return None
    return found


async def _pressed_unit(
    turn: Turn, fields: dict[str, str] | None
) -> tuple[Rater, Department] | None:
    """The round and the unit a press names, both checked (a refusal is said otherwise): the
    data is forgeable, and a round may have closed since the button was sent."""
    found = await _found(turn, cb.as_int(fields["round"]) if fields else None)
    if found is None or fields is None:
        return None
    assert found.round.id is not None
    unit = await _unit_of(turn, found.round.id, cb.as_int(fields["unit"]))
    if unit is None or unit.id is None:
        _refuse(turn, BallotProblem.unknown_unit)
        return None
    return found, unit


@turn_handler
async def rate_round(turn: Turn) -> int:
    """/rate_round: the open rounds the evaluator may rate, or the one's units."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    rounds = await open_rounds_for(turn.session, turn.account_id)
    if not rounds:
        turn.say(turn._("There is no appraisal round open for you now."))
        return END
    if len(rounds) == 1:
        found = await rater(turn.session, rounds[0].id or 0, turn.account_id, turn.now)
        if isinstance(found, Rater):
            await _overview(turn, found)
            return END
    tz = turn.services.settings.tz
    turn.say(
        turn._("Appraisal rounds open for you:"),
        [
            [
                (
                    button_label(f"{r.title} · {local_time(r.closes_at, tz)[:10]}"),
                    cb.ROUND_OPEN.pack(r.id or 0),
                )
            ]
            for r in rounds
        ],
    )
    return END


@turn_handler
async def open_round(turn: Turn) -> int:
    """The invitation's button (or My ballots): the round's units and marks."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    fields = cb.ROUND_OPEN.unpack(turn.callback_data)
    found = await _found(turn, cb.as_int(fields["round"]) if fields else None)
    if found is None:
        return END
    turn.clear_keyboard = True
    await _overview(turn, found)
    return END


@turn_handler
async def rate_unit(turn: Turn) -> int:
    """A unit's button: its first dimension, with the current ballot shown."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    pressed = await _pressed_unit(turn, cb.ROUND_UNIT.unpack(turn.callback_data))
    if pressed is None:
        return END
    round_, unit = pressed[0].round, pressed[1]
    assert round_.id is not None and unit.id is not None
    ballots = await ballots_by_unit(turn.session, round_.id, turn.account_id)
    current = ballots.get(unit.id)
    turn.clear_keyboard = True
    _dimension_prompt(
        turn, round_, unit, [], _ballot_text(turn, round_, current) if current else None
    )
    return END


def _marks(value: str) -> list[int] | None:
    if not value.isascii() or not value.isdigit():
        return None
    return [int(digit) for digit in value]


@turn_handler
async def mark(turn: Turn) -> int:
    """A mark: the next dimension, or (the last one) store the ballot and offer a comment."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    fields = cb.BALLOT_MARK.unpack(turn.callback_data)
    pressed = await _pressed_unit(turn, fields)
    if pressed is None or fields is None:
        return END
    found, unit = pressed
    round_ = found.round
    assert round_.id is not None and unit.id is not None
    marks = _marks(fields["marks"])
    if marks is None or not marks_fit(round_, marks, complete=False):
        _refuse(turn, BallotProblem.bad_marks)
        return END
    turn.clear_keyboard = True
    if len(marks) < len(dimensions_of(round_)):
        _dimension_prompt(turn, round_, unit, marks, None)
        return END
    cast = await cast_ballot(
        turn.session,
        round_id=round_.id,
        department_id=unit.id,
        account_id=turn.account_id,
        marks=marks,
        now=turn.now,
    )
    if isinstance(cast, BallotProblem):
        _refuse(turn, cast)
        return END
    _ = turn._
    await leave_other_flows(turn, CONVERSATION)
    await store_state(turn.session, TARGETS, chat_key(turn), {"round": round_.id, "unit": unit.id})
    turn.say(
        _(
            "<b>{unit}</b>: {marks}. Saved.\nType a comment on this unit if you wish (up to {max} "
            "characters), or press Skip."
        ).format(unit=esc(unit.name), marks=_marks_text(round_, marks), max=COMMENT_MAX),
        [[(_(SKIP_COMMENT), cb.BALLOT_NO_COMMENT.pack(round_.id, unit.id))]],
    )
    return State.COMMENT


@turn_handler
async def skip_unit(turn: Turn) -> int:
    """没有接触过: a ballot without marks, then the next unit."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    fields = cb.BALLOT_SKIP.unpack(turn.callback_data)
    found = await _found(turn, cb.as_int(fields["round"]) if fields else None)
    if found is None or fields is None:
        return END
    round_ = found.round
    assert round_.id is not None
    unit_id = cb.as_int(fields["unit"])
    cast = await cast_ballot(
        turn.session,
        round_id=round_.id,
        department_id=unit_id or 0,
        account_id=turn.account_id,
        marks=None,
        now=turn.now,
    )
    if isinstance(cast, BallotProblem):
        _refuse(turn, cast)
        return END
    turn.clear_keyboard = True
    await _next_unit(turn, found, await _done_line(turn, round_, cast.department_id))
    return END


@turn_handler
async def no_comment(turn: Turn) -> int:
    """Skip the comment: on to the next unit."""
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    fields = cb.BALLOT_NO_COMMENT.unpack(turn.callback_data)
    found = await _found(turn, cb.as_int(fields["round"]) if fields else None)
    unit_id = cb.as_int(fields["unit"]) if fields else None
    if found is None or unit_id is None:
        return END
    turn.clear_keyboard = True
    await _next_unit(turn, found, await _done_line(turn, found.round, unit_id))
    return END


@turn_handler
async def take_comment(turn: Turn) -> int:
    """The typed comment: kept with the ballot, then the next unit."""
    stored = await target_value(turn.session, TARGETS, chat_key(turn))
    round_id, unit_id = stored.get("round"), stored.get("unit")
    if not isinstance(round_id, int) or not isinstance(unit_id, int):
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        return END
    text = typed_text(turn, COMMENT_MAX)
    if text is None:
        return State.COMMENT
    found = await _found(turn, round_id)
    if found is None:
        await store_state(turn.session, TARGETS, chat_key(turn), None)
        return END
    saved = await set_comment(
        turn.session,
        round_id=round_id,
        department_id=unit_id,
        account_id=turn.account_id,
        comment=text,
        now=turn.now,
    )
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    if isinstance(saved, BallotProblem):
        _refuse(turn, saved)
        return END
    await _next_unit(
        turn,
        found,
        turn._("Comment saved. {ballot}").format(
            ballot=await _done_line(turn, found.round, unit_id)
        ),
    )
    return END


@turn_handler
async def cancel(turn: Turn) -> int:
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    turn.say(turn._("Cancelled. Nothing was changed."))
    return END


def build_handler() -> Handler:
    async def reask(turn: Turn) -> State:
        turn.say(turn._("Please answer with text, or /cancel."))
        return State.COMMENT

    buttons = [
        CallbackQueryHandler(open_round, pattern=cb.ROUND_OPEN.pattern),
        CallbackQueryHandler(rate_unit, pattern=cb.ROUND_UNIT.pattern),
        CallbackQueryHandler(mark, pattern=cb.BALLOT_MARK.pattern),
        CallbackQueryHandler(skip_unit, pattern=cb.BALLOT_SKIP.pattern),
        CallbackQueryHandler(no_comment, pattern=cb.BALLOT_NO_COMMENT.pattern),
    ]
    return conversation(
        entry_points=[CommandHandler("rate_round", rate_round, filters=PRIVATE), *buttons],
        states={
            State.COMMENT: [
                MessageHandler(TEXT, take_comment),
                MessageHandler(NOT_TEXT, turn_handler(reask)),
            ],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
