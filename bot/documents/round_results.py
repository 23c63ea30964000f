"""The short message the admins get when a rating round closes: the turnout per group, then
each unit's score on 100 with its ballots (a long list is cut, saying how much was left out)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime.i18n import Translator, gettext_for
from bot.runtime.render import MESSAGE_MAX, esc, fit_lines
from db.appraisal.results import UnitResult
from db.appraisal.rounds import GroupTurnout, round_units, turnout
from db.models import AppraisalRound, Department
from db.people.roles import Recipient


def turnout_line(row: GroupTurnout, _: Translator) -> str:
    return _(
        "{group}: {rated} of {evaluators} evaluators rated, {ballots} ballots, "
        "{skipped} units not dealt with"
    ).format(
        group=esc(row.group.name),
        rated=row.rated,
        evaluators=row.evaluators,
        ballots=row.ballots,
        skipped=row.skipped,
    )


def results_text(
    round_: AppraisalRound,
    results: list[UnitResult],
    units: dict[int, Department],
    turnout: list[GroupTurnout],
    _: Translator,
) -> str:
    """Units with a score first, best first; units nobody marked last, without a score."""
    head = _("<b>Appraisal round #{id} closed</b>: {title} ({period})").format(
        id=round_.id, title=esc(round_.title), period=esc(round_.period)
    )
    lines = [_("<b>Turnout</b>"), *(turnout_line(row, _) for row in turnout)]
    lines.append(_("<b>Scores on 100</b>"))
    ranked = sorted(
        results,
        key=lambda r: (r.score is None, -(r.score or 0), r.department_id),
    )
    for result in ranked:
        unit = units.get(result.department_id)
        name = esc(unit.name) if unit else str(result.department_id)
        if result.score is None:
            lines.append(_("{unit}: no ballots").format(unit=name))
        else:
            lines.append(
                _("{unit}: {score} ({ballots} ballots)").format(
                    unit=name, score=f"{result.score:.1f}", ballots=result.ballots
                )
            )
    return fit_lines(
        head,
        lines,
        lambda left: _("… and {count} more.").format(count=left),
        lambda text: len(text) <= MESSAGE_MAX,
    )


async def result_messages(
    session: AsyncSession,
    round_: AppraisalRound,
    results: list[UnitResult],
    people: list[Recipient],
) -> list[tuple[str, Recipient, str]]:
    """(outbox key, recipient, text) of the close's message to each admin: the key names the
    round and the person, so closing twice (the job after `/round close`) sends nothing twice."""
    assert round_.id is not None
    units = {u.id: u for u in await round_units(session, round_.id) if u.id is not None}
    counts = await turnout(session, round_.id)
    return [
        (
            f"round:{round_.id}:results:{person.telegram_id}",
            person,
            results_text(round_, results, units, counts, gettext_for(person.language)),
        )
        for person in people
    ]
