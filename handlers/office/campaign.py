"""/campaign for the office: the active campaign's phases, and moving one phase's dates.

`zhengfeng campaign init` loads a template (seed 001's four phases by whole months); the office
then adjusts the dates here. Officials see the current phase in /start.
"""

from __future__ import annotations

from telegram.ext import CommandHandler, filters

from bot.runtime.admin import audit, require_admin
from bot.runtime.i18n import N_
from bot.runtime.render import cut, esc
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.calendar.date_input import read_date
from db.calendar.workdays import local_date
from db.models import Campaign
from db.office.campaign_edit import PhaseProblem, active_campaign, edit_phase
from db.office.campaigns import phases_of

USAGE = N_(
    "To change a phase: /campaign phase N START END [name], dates as YYYY-MM-DD, e.g. "
    "/campaign phase 2 2026-03-15 2026-09-30 集中整治."
)
PROBLEMS: dict[PhaseProblem, str] = {
    PhaseProblem.no_campaign: N_(
        "There is no active campaign. Load one on the server with: zhengfeng campaign init "
        "--template zhengfeng-2011"
    ),
    PhaseProblem.unknown_phase: N_("The campaign has no phase {number}. Nothing was changed."),
    PhaseProblem.ends_before_start: N_(
        "The phase would end ({end}) before it starts ({start}). Nothing was changed."
    ),
    PhaseProblem.bad_name: N_("A phase name has 1 to 100 characters. Nothing was changed."),
}


async def _show(turn: Turn, campaign: Campaign) -> None:
    _ = turn._
    assert campaign.id is not None
    today = local_date(turn.now, turn.services.settings.tz)
    lines = [_("<b>{name}</b> ({year})").format(name=esc(campaign.name), year=campaign.year)]
    for phase in await phases_of(turn.session, campaign.id):
        mark = " ◀ " + _("now") if phase.starts_on <= today <= phase.ends_on else ""
        lines.append(
            f"{phase.position}. {esc(phase.name)}  {phase.starts_on:%Y-%m-%d} – "
            f"{phase.ends_on:%Y-%m-%d}{mark}"
        )
    lines += ["", _(USAGE)]
    turn.say("\n".join(lines))


async def _edit(turn: Turn, campaign: Campaign, args: list[str]) -> None:
    _ = turn._
    assert campaign.id is not None
    if len(args) < 3 or not args[0].isascii() or not args[0].isdigit() or len(args[0]) > 3:
        turn.say(_(USAGE))
        return
    starts_on, ends_on = read_date(args[1], None), read_date(args[2], None)
    if starts_on is None or ends_on is None:
        turn.say(
            _("I could not read the date “{value}”: use YYYY-MM-DD. Nothing was changed.").format(
                value=esc(cut(args[1] if starts_on is None else args[2], 40))
            )
        )
        return
    name = " ".join(args[3:]) or None
    position = int(args[0])
    before = {
        p.position: (p.name, f"{p.starts_on}", f"{p.ends_on}")
        for p in await phases_of(turn.session, campaign.id)
    }.get(position)
    phase = await edit_phase(turn.session, campaign.id, position, starts_on, ends_on, name)
    if isinstance(phase, PhaseProblem):
        turn.say(_(PROBLEMS[phase]).format(number=position, start=starts_on, end=ends_on))
        return
    await audit(
        turn,
        "campaign.phase",
        f"campaign:{campaign.id}",
        before={"position": position, "phase": before},
        after={"position": position, "phase": (phase.name, f"{starts_on}", f"{ends_on}")},
    )
    turn.say(
        _("Phase {number} is now {name}, {start} – {end}.").format(
            number=position, name=esc(phase.name), start=starts_on, end=ends_on
        )
    )
    await _show(turn, campaign)


@turn_handler
async def campaign(turn: Turn) -> None:
    """`/campaign` shows the phases; `/campaign phase N START END [name]` edits one."""
    if not await require_admin(turn):
        return
    current = await active_campaign(turn.session)
    if current is None:
        turn.say(turn._(PROBLEMS[PhaseProblem.no_campaign]))
        return
    args = turn.context.args or []
    if not args:
        await _show(turn, current)
    elif args[0].lower() in ("phase", "阶段"):
        await _edit(turn, current, args[1:])
    else:
        turn.say(turn._(USAGE))


def build_handlers() -> list[Handler]:
    return [CommandHandler("campaign", campaign, filters=filters.ChatType.PRIVATE)]
