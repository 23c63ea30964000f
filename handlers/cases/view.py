"""/case NUMBER: one report's timeline, as the asking person's role may see it.

- the campaign office (admins) sees every event with who acted (officials by Telegram id; a
  reporter is only ever "the reporter");
- liaisons and leaders of the unit handling it see the handling steps, without actors;
- the reporter (linked account) sees the public steps, as with /status;
- anybody else gets the same answer as for a number that does not exist: numbers are public,
  reports are not.
"""

from __future__ import annotations

from sqlmodel import col, select
from telegram.ext import CommandHandler, filters

from bot.runtime import callbacks as cb
from bot.runtime.i18n import N_, Translator
from bot.runtime.render import cut, esc, fit_message, identity_label, local_time, state_label
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.cases.categories import category_name
from db.cases.reports import parse_number, report_by_number
from db.cases.rules import DueKind
from db.models import Account, Category, Department, EventKind, Report, ReportEvent, ReportState
from db.people.roles import active_roles, is_admin
from handlers.cases.casework import action_keyboard
from handlers.cases.followup import report_details

BODY_CUT = 300

EVENT_LABELS: dict[EventKind, str] = {
    EventKind.created: N_("filed"),
    EventKind.info_added: N_("the reporter added information"),
    EventKind.accepted: N_("accepted and assigned"),
    EventKind.rejected: N_("not accepted"),
    EventKind.merged: N_("merged into another report"),
    EventKind.signed: N_("signed for"),
    EventKind.returned: N_("returned to the office"),
    EventKind.reassigned: N_("reassigned"),
    EventKind.info_requested: N_("question to the reporter"),
    EventKind.info_answered: N_("the reporter answered"),
    EventKind.extension_requested: N_("extension requested"),
    EventKind.extension_approved: N_("extension approved"),
    EventKind.extension_denied: N_("extension denied"),
    EventKind.replied: N_("answered"),
    EventKind.rated: N_("rated and closed"),
    EventKind.reopened: N_("not satisfied: reopened for renewed handling"),
    EventKind.escalated: N_("not satisfied again: referred to the office"),
    EventKind.closed: N_("closed by the office"),
    EventKind.closed_unrated: N_("closed without a rating"),
    EventKind.purged: N_("personal data and attachments removed after the retention period"),
}

HIDDEN_FROM_UNITS = frozenset({EventKind.rejected, EventKind.merged, EventKind.returned})
"""Office matters a unit does not see: triage decisions and other units' reasons for returning."""

DUE_LABELS: dict[DueKind, str] = {
    DueKind.triage: N_("triage by the office"),
    DueKind.sign: N_("signing by the unit"),
    DueKind.reply: N_("answer by the unit"),
    DueKind.rating: N_("rating by the reporter"),
    DueKind.reassign: N_("routing by the office"),
}

ROLE_LABELS: dict[str, str] = {
    "admin": N_("office"),
    "liaison": N_("liaison"),
    "reporter": N_("the reporter"),
    "system": N_("system"),
}


async def _actor(turn: Turn, event: ReportEvent, _: Translator) -> str:
    role = ROLE_LABELS.get(event.actor_role or "system", ROLE_LABELS["system"])
    if event.actor_role in ("admin", "liaison") and event.actor_account_id is not None:
        account = await turn.session.get(Account, event.actor_account_id)
        if account is not None:
            return _("{role} (ID {id})").format(role=_(role), id=account.telegram_id)
    return _(role)


async def _timeline(turn: Turn, report: Report, *, office: bool) -> list[str]:
    _ = turn._
    tz = turn.services.settings.tz
    events = await turn.session.exec(
        select(ReportEvent)
        .where(col(ReportEvent.report_id) == report.id)
        .order_by(col(ReportEvent.created_at), col(ReportEvent.id))
    )
    lines = []
    for event in events.all():
        if not office and event.kind in HIDDEN_FROM_UNITS:
            continue
        line = _("{date} · {event}").format(
            date=local_time(event.created_at, tz), event=_(EVENT_LABELS[event.kind])
        )
        if event.body:
            line = _("{line}: {text}").format(line=line, text=esc(cut(event.body, BODY_CUT)))
        if office:
            line = _("{line} — {actor}").format(line=line, actor=await _actor(turn, event, _))
        lines.append(line)
    return lines


async def _header(turn: Turn, report: Report, *, office: bool) -> list[str]:
    _ = turn._
    tz = turn.services.settings.tz
    category = await turn.session.get(Category, report.category_id)
    handling = (
        await turn.session.get(Department, report.handling_department_id)
        if report.handling_department_id
        else None
    )
    lines = [
        _("<b>Report {number}</b>").format(number=report.number),
        _("State: {state}").format(state=state_label(report.state, _)),
        _("Category: {value}").format(
            value=esc(category_name(category, turn.language)) if category else "—"
        ),
        _("Handling unit: {value}").format(value=esc(handling.name) if handling else "—"),
    ]
    if report.due_at is not None and report.due_kind is not None:
        lines.append(
            _("Next due: {due} ({what})").format(
                due=local_time(report.due_at, tz), what=_(DUE_LABELS[DueKind(report.due_kind)])
            )
        )
    if office:
        lines.append(_("Identity: {mode}").format(mode=identity_label(report.identity_mode, _)))
        if report.leader_involved and report.conflict_department_id is None:
            lines.append(_("Marked by the reporter: concerns a unit's leadership"))
        if report.conflict_department_id is not None:
            conflict = await turn.session.get(Department, report.conflict_department_id)
            lines.append(
                _("Concerns the leadership of: {unit}").format(
                    unit=esc(conflict.name) if conflict else "—"
                )
            )
    lines.append(_("What happened: {text}").format(text=esc(cut(report.description, 500))))
    return lines


async def _unit_keyboard(turn: Turn, report: Report, liaison: bool) -> Keyboard | None:
    if not liaison or report.id is None:
        return None
    if report.state is ReportState.assigned:
        return [[(turn._("Sign"), cb.CASE_SIGN.pack(report.id))]]
    if report.state in (ReportState.signed, ReportState.info_requested):
        return action_keyboard(turn._, report)
    return None


@turn_handler
async def case(turn: Turn) -> None:
    """Show one report to whoever may see it, in the view of their role."""
    _ = turn._
    args = turn.context.args or []
    number = parse_number(args[0]) if args else None
    if number is None:
        turn.say(_("Please give a report number, for example /case ZF2026-000123."))
        return
    report = await report_by_number(turn.session, number)
    not_found = _("No report {number} that you may see.").format(number=esc(number))
    if report is None:
        turn.say(not_found)
        return
    if await is_admin(turn.session, turn.account, turn.services.settings.admin_ids):
        head = [*await _header(turn, report, office=True), "", _("<b>Timeline</b>")]
        turn.say(fit_message(head, await _timeline(turn, report, office=True)))
        return
    assert turn.account.id is not None
    grants = [
        g
        for g in await active_roles(turn.session, turn.account.id)
        if g.department_id is not None and g.department_id == report.handling_department_id
    ]
    if grants and report.conflict_department_id != report.handling_department_id:
        head = [*await _header(turn, report, office=False), "", _("<b>Timeline</b>")]
        liaison = any(g.role == "liaison" for g in grants)
        turn.say(
            fit_message(head, await _timeline(turn, report, office=False)),
            await _unit_keyboard(turn, report, liaison),
        )
        return
    if report.reporter_account_id is not None and report.reporter_account_id == turn.account.id:
        turn.say(await report_details(turn, report))
        return
    turn.say(not_found)


def build_handlers() -> list[Handler]:
    return [CommandHandler("case", case, filters=filters.ChatType.PRIVATE)]
