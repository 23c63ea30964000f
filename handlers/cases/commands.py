"""What the case-handling flows (the admin inbox, the liaisons' casework, the reporter's side)
share: applying a `db.cases.rules` command for the person who pressed, explaining a refusal the
same way everywhere, and telling the unit or the reporter.
"""

from __future__ import annotations

from bot.runtime.flow_state import target_id
from bot.runtime.i18n import N_
from bot.runtime.notices import Build, notices, notify_unit
from bot.runtime.render import esc, state_label
from bot.runtime.turn import OutgoingFile, Turn
from db.cases.handling import apply_for
from db.cases.rules import Actor, Applied, Command, RefusalReason, Refused
from db.models import Account, Report
from db.people.roles import Recipient

REFUSALS: dict[RefusalReason, str] = {
    RefusalReason.wrong_state: N_(
        "Report {number} has already been handled (now: {state}). Nothing was changed."
    ),
    RefusalReason.conflict_of_interest: N_(
        "Report {number} concerns that unit's own leadership, so it cannot be assigned to it. "
        "Nothing was changed."
    ),
    RefusalReason.not_allowed: N_("You may not do this for report {number}. Nothing was changed."),
    RefusalReason.window_closed: N_(
        "The time for returning report {number} has passed. Nothing was changed."
    ),
    RefusalReason.too_late: N_(
        "An extension for report {number} must be asked for at the latest one working day "
        "before its deadline. Nothing was changed."
    ),
    RefusalReason.already_used: N_(
        "Report {number} has already had its one extension request. Nothing was changed."
    ),
}
REFUSAL_OTHER = N_("This cannot be done for report {number} now. Nothing was changed.")


async def target(turn: Turn, name: str) -> Report | None:
    """The report a typed step is about (see `bot.runtime.flow_state.set_target`)."""
    report_id = await target_id(turn, name)
    return await turn.session.get(Report, report_id) if report_id is not None else None


async def apply_as(
    turn: Turn, report: Report, command: Command, actor: Actor | None = None
) -> Applied | Refused:
    """Apply a case command for the presser (an admin unless another actor is given)."""
    settings = turn.services.settings
    if actor is None:
        actor = Actor(account_id=turn.account.id, is_admin=True)
    return await apply_for(
        turn.session, report, command, actor, turn.now, settings.deadlines.configured(), settings.tz
    )


async def refusal(turn: Turn, report: Report, refused: Refused) -> str:
    await turn.session.refresh(report)
    template = REFUSALS.get(refused.reason, REFUSAL_OTHER)
    return turn._(template).format(
        number=report.number, state=esc(state_label(report.state, turn._))
    )


async def notify_liaisons(turn: Turn, report: Report, build: Build) -> None:
    """Tell the liaisons of the report's handling department (after the commit)."""
    if report.handling_department_id is not None:
        await notify_unit(turn, report.handling_department_id, build)


async def notify_reporter(
    turn: Turn, report: Report, build: Build, files: tuple[OutgoingFile, ...] = ()
) -> bool:
    """Tell the reporter in the report's language; False when nobody can be told by message
    (fully anonymous, or the account blocked the bot): they see it on /receipt or /status."""
    if report.reporter_account_id is None:
        return False
    reporter = await turn.session.get(Account, report.reporter_account_id)
    if reporter is None or reporter.unreachable:
        return False
    recipient = Recipient(reporter.telegram_id, report.language)
    turn.notify(notices([recipient], build, files, urgent=True))
    return True
