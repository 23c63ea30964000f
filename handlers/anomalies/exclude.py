"""/exclude for admins: leave a ballot or a service rating out of the figures (剔除), with a
reason, or bring it back.

    /exclude ballot 12 理由…
    /exclude rating 45 理由…
    /exclude undo ballot 12 [理由…]

Nothing is deleted: the row is marked, the change is audited in the same transaction, and a
closed round's results are computed again (`db.anomalies.exclusions`).
"""

from __future__ import annotations

import re

from telegram.ext import CommandHandler

from bot.runtime.admin import audit, require_admin
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import Translator
from bot.runtime.render import esc, local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.anomalies.exclusions import Changed, Item, Refusal, set_excluded
from db.anomalies.rules import ItemKind
from db.models import Department

REASON_MAX = 500

KINDS = {"ballot": ItemKind.ballot, "rating": ItemKind.rating}
COMMAND = re.compile(
    r"^/exclude(?:@\S+)?\s+(?P<undo>undo\s+)?(?P<kind>ballot|rating)\s+(?P<id>\d+)"
    r"(?:\s+(?P<reason>.*))?$",
    re.IGNORECASE | re.DOTALL,
)
"""The id must be followed by a space: `/exclude ballot 12x` is no id."""


def _usage(_: Translator) -> str:
    return _(
        "Usage: /exclude ballot ID reason, /exclude rating ID reason, or "
        "/exclude undo ballot ID to count it again. The ids are in the anomaly report "
        "(/anomalies)."
    )


def _named(kind: ItemKind, item_id: int, _: Translator) -> str:
    if kind is ItemKind.ballot:
        return _("Ballot {id}").format(id=item_id)
    return _("Service rating {id}").format(id=item_id)


async def _unit(turn: Turn, item: Item) -> str:
    unit = await turn.session.get(Department, item.department_id)
    return esc(f"{unit.code} {unit.name}") if unit is not None else str(item.department_id)


def _score(score: float | None) -> str:
    return "—" if score is None else f"{score:.1f}"


async def _done(turn: Turn, changed: Changed, excluded: bool) -> str:
    _ = turn._
    item = changed.item
    named = _named(item.kind, item.id, _)
    unit = await _unit(turn, item)
    if excluded:
        lines = [
            _("{item} ({unit}) is excluded: it no longer counts. Reason: {reason}").format(
                item=named, unit=unit, reason=esc(item.excluded_reason or "")
            )
        ]
    else:
        lines = [_("{item} ({unit}) counts again.").format(item=named, unit=unit)]
    if changed.score is not None:
        lines.append(
            _(
                "The results of appraisal round {round} were computed again: {unit} "
                "{before} → {after} ({before_ballots} → {after_ballots} ballots)."
            ).format(
                round=changed.score.round_id,
                unit=unit,
                before=_score(changed.score.before_score),
                after=_score(changed.score.after_score),
                before_ballots=changed.score.before_ballots,
                after_ballots=changed.score.after_ballots,
            )
        )
    elif item.kind is ItemKind.ballot:
        lines.append(_("The round is still open: its results at the close will follow this."))
    else:
        lines.append(
            _(
                "Service rating figures are counted when they are read: from now on they "
                "follow this."
            )
        )
    if changed.bulletin is not None:
        lines.append(
            _(
                "The quarterly bulletin {quarter} already made is not changed: what was sent "
                "and published keeps its figures."
            ).format(quarter=esc(changed.bulletin.quarter))
        )
    return "\n".join(lines)


def _refused(refusal: Refusal, kind: ItemKind, item_id: int, item: Item | None, turn: Turn) -> str:
    _ = turn._
    named = _named(kind, item_id, _)
    if refusal is Refusal.unknown or item is None:
        return _("{item} does not exist. Nothing was changed.").format(item=named)
    if refusal is Refusal.not_excluded:
        return _("{item} is not excluded. Nothing was changed.").format(item=named)
    when = local_time(item.excluded_at, turn.services.settings.tz) if item.excluded_at else "—"
    return _(
        "{item} was already excluded at {when} (reason: {reason}). Nothing was changed."
    ).format(item=named, when=when, reason=esc(item.excluded_reason or "—"))


@turn_handler
async def exclude(turn: Turn) -> None:
    """Exclude a ballot or a rating with a reason, or bring one back, and say what changed."""
    _ = turn._
    if not await require_admin(turn):
        return
    match = COMMAND.match(turn.text.strip())
    if match is None or not match.group("id").isascii():
        turn.say(_usage(_))
        return
    undo = match.group("undo") is not None
    kind, item_id = KINDS[match.group("kind").lower()], int(match.group("id"))
    reason = (match.group("reason") or "").strip()
    if not undo and not reason:
        turn.say(
            _(
                "Please give the reason after the id, e.g. /exclude {kind} {id} reason. "
                "Nothing was changed."
            ).format(kind=kind.value, id=item_id)
        )
        return
    if len(reason) > REASON_MAX:
        turn.say(
            _("The reason is too long: at most {max} characters. Nothing was changed.").format(
                max=REASON_MAX
            )
        )
        return
    outcome = await set_excluded(
        turn.session,
        kind,
        item_id,
        excluded=not undo,
        actor_account_id=turn.account_id,
        reason=reason,
        now=turn.now,
    )
    if not isinstance(outcome, Changed):
        turn.say(_refused(outcome[0], kind, item_id, outcome[1], turn))
        return
    action = f"{kind.value}.{'include' if undo else 'exclude'}"
    after: dict[str, object] = {"excluded": not undo, "reason": reason or None}
    if outcome.score is not None:
        after |= {"score": outcome.score.after_score, "ballots": outcome.score.after_ballots}
    await audit(turn, action, f"{kind.value}:{item_id}", before={"excluded": undo}, after=after)
    turn.say(await _done(turn, outcome, excluded=not undo))


def build_handlers() -> list[Handler]:
    return [CommandHandler("exclude", exclude, filters=PRIVATE)]
