"""Rating a service right after it (公述民评): a poster's QR code or a single-use link opens
`/start rate-TOKEN`, the person taps 满意 / 基本满意 / 不满意, and after 不满意 gives a reason
from a short list, types one, or skips; a reason can then become a report in one more tap
(`handlers.cases.report.start_from_rating`).

```mermaid
stateDiagram-v2
    [*] --> [*]: /start rate-TOKEN (three buttons)
    [*] --> [*]: value button (satisfied, basic; or unsatisfied with reason buttons)
    [*] --> OTHER: reason "other"
    OTHER --> [*]: typed reason / skip / cancel
```

The link opened is stored for the chat; a value button must name that link, so a button forged
with another link's id (a single-use link is worth taking) is refused. The rating is stored at the
first tap: the reason only adds to it, and 200 taps make one rating.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.runtime import callbacks as cb
from bot.runtime.conversation import END, PRIVATE, TEXT, conversation, stay_in
from bot.runtime.flow_state import chat_key, leave_other_flows, target_value
from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.input import no_longer_valid, typed_text
from bot.runtime.render import esc
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.calendar.workdays import local_date
from db.conversations import store_state
from db.models import Department, RatingLink, ServiceRating, ServiceRatingValue
from db.ratings.links import START_PREFIX, link_for_token
from db.ratings.service import (
    REASON_MAX,
    SINGLE_LINK_DAILY_CAP,
    RatingProblem,
    next_rating_day,
    open_link,
    own_rating,
    record_rating,
    set_reason,
)

CONVERSATION = "service_rating"
TARGETS = "service_rating.target"
"""Conversation-state rows: the link a chat opened, or the rating whose reason is being typed."""
RATE_START = filters.Regex(rf"^/start(@\w+)?\s+{START_PREFIX}\S+")


class State(IntEnum):
    OTHER = 1


VALUE_LABELS: dict[ServiceRatingValue, str] = {
    ServiceRatingValue.satisfied: N_("Satisfied"),
    ServiceRatingValue.basic: N_("Basically satisfied"),
    ServiceRatingValue.unsatisfied: N_("Unsatisfied"),
}
REASONS: dict[str, str] = {
    "attitude": N_("Unfriendly attitude"),
    "slow": N_("Slow handling"),
    "trips": N_("Had to come back several times"),
    "fees": N_("Improper fees"),
}
"""The short list after 不满意; the chosen one is stored in Chinese, as the office reads it."""
ZH = gettext_for("zh_CN")

PROBLEMS: dict[RatingProblem, str] = {
    RatingProblem.unknown: N_(
        "This rating link is not valid. Please scan the QR code on the poster again, or ask the "
        "service window for a new link. Nothing was recorded."
    ),
    RatingProblem.revoked: N_(
        "This rating link has been withdrawn. Please scan the current rating poster of the "
        "unit. Nothing was recorded."
    ),
    RatingProblem.inactive_unit: N_(
        "This unit no longer takes service ratings in the bot. Nothing was recorded."
    ),
    RatingProblem.used: N_(
        "This rating link has already been used: a link for one service counts once. Nothing "
        "was recorded."
    ),
    RatingProblem.own_unit: N_(
        "Sorry, the liaisons and leaders of a unit cannot rate its service themselves: the "
        "ratings are for the people it serves. Nothing was recorded."
    ),
    RatingProblem.own_link: N_(
        "Sorry, you made this rating link, so you cannot rate with it: please give it to the "
        "person you served. Nothing was recorded."
    ),
}


async def _problem_text(turn: Turn, problem: RatingProblem, link: RatingLink | None) -> str:
    _ = turn._
    if problem is RatingProblem.rated_today and link is not None:
        unit = await turn.session.get(Department, link.department_id)
        return _(
            "You have already rated the service of {unit} today; one rating a day counts. You "
            "can rate it again from {date}. Nothing was recorded."
        ).format(
            unit=esc(unit.name if unit else "—"),
            date=f"{next_rating_day(_today(turn)):%Y-%m-%d}",
        )
    if problem is RatingProblem.single_cap:
        return _(
            "Sorry, you have already rated this unit's service {count} times today through "
            "links for one service; that is the most that counts in a day. Nothing was recorded."
        ).format(count=SINGLE_LINK_DAILY_CAP)
    return _(PROBLEMS.get(problem, PROBLEMS[RatingProblem.unknown]))


def _today(turn: Turn) -> date:
    return local_date(turn.now, turn.services.settings.tz)


def _token(turn: Turn) -> str:
    args = turn.context.args or []
    word = args[0] if args else ""
    return word[len(START_PREFIX) :] if word.startswith(START_PREFIX) else ""


@turn_handler
async def open_rating(turn: Turn) -> int:
    """The deep link of a poster or a single-use link: ask for the rating with three buttons."""
    _ = turn._
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    token = _token(turn)
    opened = await open_link(turn.session, token, turn.account_id, _today(turn))
    if isinstance(opened, RatingProblem):
        link = await link_for_token(turn.session, token) if token else None
        turn.say(await _problem_text(turn, opened, link))
        return END
    link_id = opened.link.id
    assert link_id is not None
    await store_state(turn.session, TARGETS, chat_key(turn), {"link": link_id})
    lines = [
        _("Service rating: <b>{unit}</b>").format(unit=esc(opened.department.name)),
        _(
            "How was the service you just received? One tap is enough. The unit does not see "
            "who rated it."
        ),
    ]
    if opened.link.label:
        lines.insert(1, _("For: {label}").format(label=esc(opened.link.label)))
    keyboard: Keyboard = [
        [(_(label), cb.SERVICE_RATE.pack(link_id, value.value))]
        for value, label in VALUE_LABELS.items()
    ]
    turn.say("\n".join(lines), keyboard)
    return END


def _value(word: str | None) -> ServiceRatingValue | None:
    return ServiceRatingValue(word) if word in {v.value for v in ServiceRatingValue} else None


def reason_keyboard(_: Translator, rating_id: int) -> Keyboard:
    rows: Keyboard = [
        [(_(label), cb.SERVICE_REASON.pack(rating_id, code))] for code, label in REASONS.items()
    ]
    rows.append([(_("Other (type it)"), cb.SERVICE_REASON.pack(rating_id, "other"))])
    rows.append([(_("Skip"), cb.SERVICE_REASON.pack(rating_id, "skip"))])
    return rows


@turn_handler
async def choose_value(turn: Turn) -> int:
    """A rating button: store the rating; after 不满意 ask for the reason."""
    _ = turn._
    fields = cb.SERVICE_RATE.unpack(turn.callback_data)
    link_id = cb.as_int(fields["link"]) if fields else None
    value = _value(fields["value"] if fields else None)
    stored = await target_value(turn.session, TARGETS, chat_key(turn))
    if link_id is None or value is None or stored.get("link") != link_id:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    turn.clear_keyboard = True
    outcome = await record_rating(
        turn.session,
        link_id=link_id,
        account_id=turn.account_id,
        value=value,
        now=turn.now,
        today=_today(turn),
    )
    if isinstance(outcome, RatingProblem):
        await store_state(turn.session, TARGETS, chat_key(turn), None)
        link = await turn.session.get(RatingLink, link_id)
        turn.say(await _problem_text(turn, outcome, link))
        return END
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    unit = await turn.session.get(Department, outcome.department_id)
    turn.pressed_becomes = _("Your rating of {unit}: {value}").format(
        unit=esc(unit.name if unit else "—"), value=_(VALUE_LABELS[value])
    )
    if value is not ServiceRatingValue.unsatisfied:
        turn.say(_("Thank you! Your rating was recorded."))
        return END
    assert outcome.id is not None
    turn.say(
        _(
            "Thank you; your rating was recorded. We are sorry the service fell short. What was "
            "the main problem? (optional)"
        ),
        reason_keyboard(_, outcome.id),
    )
    return END


def _reported(turn: Turn, rating: ServiceRating, reason: str) -> None:
    """Thank for the reason and offer the report it can become."""
    _ = turn._
    assert rating.id is not None
    turn.say(
        "\n".join(
            [
                _("Thank you. Reason recorded: {reason}").format(reason=esc(reason)),
                _(
                    "If you want the campaign office to look into it, you can turn this into "
                    "a report: the unit is filled in, you add what happened."
                ),
            ]
        ),
        [[(_("Turn into a report"), cb.SERVICE_REPORT.pack(rating.id))]],
    )


@turn_handler
async def choose_reason(turn: Turn) -> int:
    """A reason button after 不满意: store it, ask to type one, or skip."""
    _ = turn._
    fields = cb.SERVICE_REASON.unpack(turn.callback_data)
    rating = await own_rating(
        turn.session, cb.as_int(fields["rating"]) if fields else None, turn.account_id
    )
    code = fields["reason"] if fields else ""
    turn.clear_keyboard = True
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    if (
        rating is None
        or rating.id is None
        or rating.value is not ServiceRatingValue.unsatisfied
        or rating.reason
        or (code not in REASONS and code not in ("other", "skip"))
    ):
        turn.toast = no_longer_valid(turn)
        return END
    if code == "skip":
        turn.say(_("Thank you! Your rating was recorded."))
        return END
    if code == "other":
        # The reason is typed: a report or an official's step left waiting must not take it.
        await leave_other_flows(turn, CONVERSATION)
        await store_state(turn.session, TARGETS, chat_key(turn), {"rating": rating.id})
        turn.say(
            _("Please type the reason in a few words (up to {max} characters), or /cancel.").format(
                max=REASON_MAX
            ),
            [[(_("Skip"), cb.SERVICE_REASON.pack(rating.id, "skip"))]],
        )
        return State.OTHER
    stored = await set_reason(turn.session, rating.id, turn.account_id, ZH(REASONS[code]))
    if stored is None:
        turn.toast = no_longer_valid(turn)
        return END
    turn.pressed_becomes = _("Reason: {reason}").format(reason=_(REASONS[code]))
    _reported(turn, stored, _(REASONS[code]))
    return END


@turn_handler
async def take_reason(turn: Turn) -> int:
    """The typed reason after "other"."""
    stored = await target_value(turn.session, TARGETS, chat_key(turn))
    rating_id = stored.get("rating")
    text = typed_text(turn, REASON_MAX)
    if text is None:
        return State.OTHER
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    rating = await set_reason(
        turn.session, rating_id if isinstance(rating_id, int) else 0, turn.account_id, text
    )
    if rating is None:
        turn.say(turn._("That step is no longer open. Nothing was changed."))
        return END
    _reported(turn, rating, text)
    return END


@turn_handler
async def cancel(turn: Turn) -> int:
    await store_state(turn.session, TARGETS, chat_key(turn), None)
    turn.say(turn._("Cancelled. Your rating itself was kept; no reason was added."))
    return END


def build_handler() -> Handler:
    return conversation(
        entry_points=[
            CommandHandler("start", open_rating, filters=PRIVATE & RATE_START),
            CallbackQueryHandler(choose_value, pattern=cb.SERVICE_RATE.pattern),
            CallbackQueryHandler(choose_reason, pattern=cb.SERVICE_REASON.pattern),
        ],
        states={State.OTHER: [MessageHandler(TEXT, take_reason), stay_in(State.OTHER)]},
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
