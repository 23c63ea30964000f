"""/anomalies [ROUND_ID | YYYY-MM] for admins: the anomaly report of a round or of a month's
service ratings (default: last month's), as the scheduler sends it, at any time."""

from __future__ import annotations

from telegram.ext import CommandHandler

from bot.documents.anomaly_report import anomaly_text, month_title, round_title, thresholds
from bot.runtime import callbacks as cb
from bot.runtime.admin import month_or_say, require_admin
from bot.runtime.conversation import PRIVATE
from bot.runtime.render import esc
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.anomalies.load import month_findings, round_findings
from db.anomalies.rules import ItemKind
from db.calendar.workdays import load_calendar
from db.models import AppraisalRound


@turn_handler
async def anomalies(turn: Turn) -> None:
    """Show the anomaly report of the round or month the admin names."""
    _ = turn._
    if not await require_admin(turn):
        return
    settings = turn.services.settings
    words = [w for w in (turn.context.args or []) if w.lower() != "round"]
    usage = _(
        "Usage: /anomalies [ROUND_ID | YYYY-MM], e.g. /anomalies 3 for a round or "
        "/anomalies {example} for a month's service ratings."
    )
    if len(words) > 1:
        turn.say(usage.format(example="2026-03"))
        return
    calendar = await load_calendar(turn.session)
    rules = thresholds(settings.anomalies)
    word = words[0] if words else None
    if word is not None and word.isascii() and word.isdigit():
        round_id = cb.as_int(word)
        round_ = await turn.session.get(AppraisalRound, round_id) if round_id is not None else None
        if round_ is None:
            turn.say(_("No appraisal round has the id {id}.").format(id=esc(word)))
            return
        findings = await round_findings(
            turn.session, round_, rules, turn.now, calendar=calendar, tz=settings.tz
        )
        turn.say(anomaly_text(round_title(round_, _), findings, ItemKind.ballot, _, settings.tz))
        return
    month = month_or_say(turn, word, usage)
    if month is None:
        return
    findings = await month_findings(
        turn.session, month, rules, turn.now, calendar=calendar, tz=settings.tz
    )
    turn.say(anomaly_text(month_title(month, _), findings, ItemKind.rating, _, settings.tz))


def build_handlers() -> list[Handler]:
    return [CommandHandler("anomalies", anomalies, filters=PRIVATE)]
