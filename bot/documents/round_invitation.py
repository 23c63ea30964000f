"""A rating round's invitation to one evaluator: sent when the round opens, and by the rounds'
job to whoever joins one of its groups later. One outbox key per round and account
(`invitation_key`), so nobody is asked twice."""

from __future__ import annotations

from bot.runtime import callbacks as cb
from bot.runtime.i18n import N_, gettext_for
from bot.runtime.render import esc
from db.appraisal.results import dimensions_of
from db.models import AppraisalRound

START_LABEL = N_("Start rating")

Keyboard = list[list[tuple[str, str]]]


def invitation_key(round_id: int, account_id: int) -> str:
    return f"round:{round_id}:ask:{account_id}"


def invitation(
    round_: AppraisalRound, units: int, close: str, language: str
) -> tuple[str, Keyboard]:
    """The text and button of a round's invitation, in the evaluator's language."""
    assert round_.id is not None
    _ = gettext_for(language)
    text = _(
        "<b>Appraisal: {title}</b> ({period})\n"
        "The campaign office invites you to rate {units} units on {dimensions}, each from 1 "
        "(poor) to {top} (very good). Rate the units you have dealt with; press “Never dealt "
        "with this unit” for the others. You can change your ballots until the round closes on "
        "{close}."
    ).format(
        title=esc(round_.title),
        period=esc(round_.period),
        units=units,
        dimensions=esc("、".join(dimensions_of(round_))),
        top=round_.scale_max,
        close=close,
    )
    return text, [[(_(START_LABEL), cb.ROUND_OPEN.pack(round_.id))]]
