"""/inbox for admins: triage new, returned and escalated reports (assign, reject, merge, close).

Buttons only say what was pressed: every press looks the report up again and checks that the
presser is an admin now and that the command still applies (`db.cases.rules` decides). The report
an admin is typing a reason or a number for is kept in the database beside the conversation
position, so both survive a restart together.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
)

from bot.runtime import callbacks as cb
from bot.runtime.conversation import END, PRIVATE, TEXT, conversation, stay_in
from bot.runtime.flow_state import set_target
from bot.runtime.i18n import N_, Translator
from bot.runtime.input import no_longer_valid, typed_text, unit_choices
from bot.runtime.leader_notices import LeaderNews, leader_notices
from bot.runtime.render import (
    button_label,
    cut,
    esc,
    guess_warning,
    local_time,
    marked_due,
    state_label,
)
from bot.runtime.services import BotContext
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.calendar.workdays import guessed_span, load_calendar
from db.cases.categories import category_name
from db.cases.inbox import ASSIGNABLE, CLOSABLE, REJECTABLE, in_inbox, inbox_page
from db.cases.reports import parse_number, report_by_number
from db.cases.rules import (
    Accept,
    CloseByAdmin,
    Command,
    Merge,
    Reassign,
    RefusalReason,
    Refused,
    Reject,
)
from db.models import Category, Department, EventKind, IdentityMode, Report, ReportState
from db.people.roles import is_admin
from handlers.cases import casework
from handlers.cases.commands import apply_as, notify_reporter, refusal, target

CONVERSATION = "inbox"
TARGETS = "inbox.target"
"""Conversation-state rows (same table) holding the report id an admin is answering about."""
INBOX_PAGE_SIZE = 10
DESCRIPTION_CUT = 300
REASON_MAX = 500


class State(IntEnum):
    UNIT = 1
    REASON = 2
    MERGE = 3
    CLOSE = 4


def _not_admin(turn: Turn) -> str:
    return turn._(
        "Sorry, only the campaign office (admins) can use the inbox. To file a report, "
        "send /report."
    )


async def _admin(turn: Turn) -> bool:
    return await is_admin(turn.session, turn.account, turn.services.settings.admin_ids)


# --- the list ----------------------------------------------------------------------------------


async def _card(turn: Turn, report: Report) -> tuple[str, Keyboard]:
    _ = turn._
    assert report.id is not None
    category = await turn.session.get(Category, report.category_id)
    department = (
        await turn.session.get(Department, report.department_id) if report.department_id else None
    )
    if department is not None:
        unit = esc(department.name)
    else:
        unit = _("not sure ({text})").format(text=esc(report.department_text or "—"))
    description = cut(report.description, DESCRIPTION_CUT)
    lines = [
        f"<b>{report.number}</b> · {esc(state_label(report.state, _))}",
        _("Category: {name}").format(
            name=esc(category_name(category, turn.language)) if category else "—"
        ),
        _("Unit named by the reporter: {unit}").format(unit=unit),
        _("What happened: {text}").format(text=esc(description)),
    ]
    if report.due_at is not None:
        lines.append(
            _("Due: {due}").format(due=local_time(report.due_at, turn.services.settings.tz))
        )
    if report.identity_mode is IdentityMode.real_name:
        lines.append(
            _("Reporter (real name): {name}, {phone}").format(
                name=esc(report.reporter_name or "—"), phone=esc(report.reporter_phone or "—")
            )
        )
    if report.leader_involved:
        lines.append(
            _(
                "⚠ Marked by the reporter: concerns the unit's leadership. Do not assign it to "
                "that unit."
            )
        )
    rows: Keyboard = []
    conflict = report.conflict_department_id
    if department is not None and department.active and department.id != conflict:
        rows.append(
            [
                (
                    _("Assign to {unit}").format(unit=button_label(department.name)),
                    cb.INBOX_ASSIGN.pack(report.id, department.id or 0),
                )
            ]
        )
    rows.append([(_("Assign to another unit"), cb.INBOX_ACTION.pack("other", report.id))])
    if report.state in REJECTABLE:
        rows.append(
            [
                (_("Reject"), cb.INBOX_ACTION.pack("reject", report.id)),
                (_("Merge"), cb.INBOX_ACTION.pack("merge", report.id)),
            ]
        )
    if report.state in CLOSABLE:
        rows.append([(_("Close with a final note"), cb.INBOX_ACTION.pack("close", report.id))])
    return "\n".join(lines), rows


async def _list(turn: Turn, page: int) -> tuple[str, Keyboard] | None:
    """One page of the inbox as one message: a line and a button per report, and paging.

    One message, not a card per report: ten messages at once to one chat is more than Telegram
    lets a bot send to a person, and the list of a busy morning is longer than ten."""
    _ = turn._
    found = await inbox_page(turn.session, page, INBOX_PAGE_SIZE)
    if not found.total:
        return None
    tz = turn.services.settings.tz
    lines = [
        _(
            "<b>Inbox</b>: {total} reports waiting for triage, page {page} of {pages}, the one "
            "due soonest first. Press a report to open it."
        ).format(total=found.total, page=found.page + 1, pages=found.pages),
        "",
    ]
    rows: Keyboard = []
    for report in found.reports:
        assert report.id is not None
        unit = found.units.get(report.department_id or 0) or _("unit not sure")
        parts = [f"<b>{report.number}</b>", esc(state_label(report.state, _)), esc(unit)]
        if report.due_at is not None:
            parts.append(_("due {due}").format(due=local_time(report.due_at, tz)))
        lines.append(" · ".join(parts))
        rows.append([(button_label(f"{report.number} · {unit}"), cb.INBOX_OPEN.pack(report.id))])
    paging = []
    if found.page > 0:
        paging.append((_("◀ Previous"), cb.INBOX_PAGE.pack(found.page - 1)))
    if found.page + 1 < found.pages:
        paging.append((_("Next ▶"), cb.INBOX_PAGE.pack(found.page + 1)))
    if paging:
        rows.append(paging)
    return "\n".join(lines), rows


async def _say_page(turn: Turn, page: int) -> None:
    listed = await _list(turn, page)
    if listed is None:
        turn.say(turn._("The inbox is empty: no report is waiting for triage."))
    else:
        turn.say(*listed)


@turn_handler
async def inbox(turn: Turn) -> int:
    """The first page of the reports waiting for the office."""
    await set_target(turn, TARGETS, None)
    if not await _admin(turn):
        turn.say(_not_admin(turn))
        return END
    await _say_page(turn, 0)
    return END


@turn_handler
async def page_button(turn: Turn) -> int:
    """Another page, in place of the pressed one."""
    await set_target(turn, TARGETS, None)
    turn.clear_keyboard = True
    if not await _admin(turn):
        turn.toast = _not_admin(turn)
        return END
    fields = cb.INBOX_PAGE.unpack(turn.callback_data)
    page = cb.as_int(fields["page"]) if fields else None
    if page is None:
        turn.toast = no_longer_valid(turn)
        return END
    await _say_page(turn, page)
    return END


@turn_handler
async def open_button(turn: Turn) -> int:
    """A listed report's card, as a message of its own; the list stays to open the next."""
    await set_target(turn, TARGETS, None)
    if not await _admin(turn):
        turn.toast = _not_admin(turn)
        return END
    fields = cb.INBOX_OPEN.unpack(turn.callback_data)
    report = await _report_from(turn, fields["report"] if fields else None)
    if report is None:
        turn.toast = no_longer_valid(turn)
        return END
    if not in_inbox(report):
        turn.toast = await refusal(turn, report, Refused(RefusalReason.wrong_state))
        return END
    turn.say(*await _card(turn, report))
    return END


# --- applying a command ------------------------------------------------------------------------


async def _report_from(turn: Turn, value: str | None) -> Report | None:
    report_id = cb.as_int(value)
    return await turn.session.get(Report, report_id) if report_id else None


@turn_handler
async def assign(turn: Turn) -> int:
    """Assign the report to the unit of the button, after checking everything again."""
    _ = turn._
    await set_target(turn, TARGETS, None)
    turn.clear_keyboard = True
    if not await _admin(turn):
        turn.toast = _not_admin(turn)
        return END
    fields = cb.INBOX_ASSIGN.unpack(turn.callback_data)
    report = await _report_from(turn, fields["report"] if fields else None)
    department_id = cb.as_int(fields["dept"]) if fields else None
    department = await turn.session.get(Department, department_id) if department_id else None
    if report is None or department is None or not department.active:
        turn.toast = no_longer_valid(turn)
        return END
    command: Command = (
        Accept(department.id or 0)
        if report.state is ReportState.received
        else Reassign(department.id or 0)
    )
    outcome = await apply_as(turn, report, command)
    if isinstance(outcome, Refused):
        message = await refusal(turn, report, outcome)
        turn.toast = message
        turn.say(message)
        return END
    turn.notify(await casework.notify_assignment(turn, report))
    settings = turn.services.settings
    turn.notify(await leader_notices(turn.session, settings, report, LeaderNews.assigned))

    def for_reporter(_: Translator) -> tuple[str, Keyboard | None]:
        return (
            _(
                "Your report {number} was accepted and passed to the responsible unit. You will "
                "be told when it answers."
            ).format(number=report.number),
            None,
        )

    await notify_reporter(turn, report, for_reporter)
    due_at = outcome.case.due_at
    span = None
    if due_at is not None:
        calendar = await load_calendar(turn.session)
        span = guessed_span(turn.now, due_at, calendar, turn.services.settings.tz)
    due = (
        marked_due(local_time(due_at, turn.services.settings.tz), span is not None, _)
        if due_at is not None
        else "—"
    )
    turn.pressed_becomes = _(
        "Report {number} was assigned to {unit}; it must be signed for by {due}."
    ).format(number=report.number, unit=esc(department.name), due=due)
    if span is not None:
        turn.say(guess_warning(span, _))
    return END


async def _pressed_report(turn: Turn, allowed: frozenset[ReportState]) -> Report | None:
    """The report of an action button, or None after saying why not."""
    _ = turn._
    if not await _admin(turn):
        turn.toast = _not_admin(turn)
        turn.clear_keyboard = True
        return None
    fields = cb.INBOX_ACTION.unpack(turn.callback_data)
    report = await _report_from(turn, fields["report"] if fields else None)
    if report is None:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return None
    if report.state not in allowed or not in_inbox(report):
        message = await refusal(turn, report, Refused(RefusalReason.wrong_state))
        turn.toast = message
        turn.clear_keyboard = True
        turn.say(message)
        return None
    return report


@turn_handler
async def action(turn: Turn) -> int:
    """Another unit, reject or merge: ask for what the command needs."""
    _ = turn._
    await set_target(turn, TARGETS, None)
    fields = cb.INBOX_ACTION.unpack(turn.callback_data)
    kind = fields["action"] if fields else ""
    allowed = {"other": ASSIGNABLE, "reject": REJECTABLE, "merge": REJECTABLE, "close": CLOSABLE}
    if kind not in allowed:
        turn.toast = no_longer_valid(turn)
        turn.clear_keyboard = True
        return END
    report = await _pressed_report(turn, allowed[kind])
    if report is None:
        return END
    await set_target(turn, TARGETS, report.id)
    if kind == "other":
        turn.say(
            _(
                "Report {number}: type part of the name of the unit to assign it to (or /cancel)."
            ).format(number=report.number)
        )
        return State.UNIT
    if kind == "reject":
        turn.say(
            _(
                "Report {number}: type the reason for not accepting it (1 to {max} characters); "
                "the reporter will see it. Or /cancel."
            ).format(number=report.number, max=REASON_MAX)
        )
        return State.REASON
    if kind == "close":
        turn.say(
            _(
                "Report {number}: type the office's final note (1 to {max} characters); the "
                "reporter will see it and the report is closed. Or /cancel."
            ).format(number=report.number, max=REASON_MAX)
        )
        return State.CLOSE
    turn.say(
        _(
            "Report {number}: type the number of the earlier report to merge it into, "
            "e.g. ZF2026-000123 (or /cancel)."
        ).format(number=report.number)
    )
    return State.MERGE


async def _typed_target(turn: Turn) -> Report | None:
    """The report the admin is typing about, re-checked; None after saying why not."""
    if not await _admin(turn):
        await set_target(turn, TARGETS, None)
        turn.say(_not_admin(turn))
        return None
    report = await target(turn, TARGETS)
    if report is None:
        turn.say(turn._("That step is no longer open. Send /inbox to start again."))
        return None
    return report


@turn_handler
async def search_unit(turn: Turn) -> int:
    """Offer the units matching the typed characters as buttons."""
    _ = turn._
    report = await _typed_target(turn)
    if report is None:
        return END
    assert report.id is not None
    report_id = report.id
    rows = await unit_choices(turn, lambda d: cb.INBOX_ASSIGN.pack(report_id, d.id or 0))
    if rows is None:
        return State.UNIT
    turn.say(
        _("Report {number}: choose the unit, or type other characters to search again:").format(
            number=report.number
        ),
        rows,
    )
    return State.UNIT


async def _decide_with_text(
    turn: Turn,
    state: State,
    command: Callable[[str], Command],
    done: str,
    for_reporter: str,
) -> int:
    """Apply a decision whose text the reporter reads (a rejection's reason, a closing note),
    then tell the admin (`done`) and the reporter (`for_reporter`, with {number} and {text})."""
    report = await _typed_target(turn)
    if report is None:
        return END
    text = typed_text(turn, REASON_MAX)
    if text is None:
        return state
    outcome = await apply_as(turn, report, command(text))
    await set_target(turn, TARGETS, None)
    if isinstance(outcome, Refused):
        turn.say(await refusal(turn, report, outcome))
        return END
    turn.say(turn._(done).format(number=report.number))

    def build(_: Translator) -> tuple[str, Keyboard | None]:
        return _(for_reporter).format(number=report.number, text=esc(text)), None

    await notify_reporter(turn, report, build)
    if outcome.event.kind is EventKind.closed:
        settings = turn.services.settings
        turn.notify(
            await leader_notices(
                turn.session, settings, report, LeaderNews.closed, EventKind.closed
            )
        )
    return END


@turn_handler
async def take_reason(turn: Turn) -> int:
    """Reject the report with the typed reason."""
    return await _decide_with_text(
        turn,
        State.REASON,
        Reject,
        N_("Report {number} was not accepted. The reporter will see the reason."),
        N_("Your report {number} was not accepted. Reason: {text}"),
    )


@turn_handler
async def take_close_note(turn: Turn) -> int:
    """Close an escalated report with the office's final note, shown to the reporter."""
    return await _decide_with_text(
        turn,
        State.CLOSE,
        CloseByAdmin,
        N_("Report {number} was closed with your note."),
        N_("Your report {number} was closed by the campaign office:\n\n{text}"),
    )


@turn_handler
async def take_merge(turn: Turn) -> int:
    """Merge the report into the earlier one whose number was typed."""
    _ = turn._
    report = await _typed_target(turn)
    if report is None:
        return END
    number = parse_number(turn.text)
    target = None
    if number is not None:
        target = await report_by_number(turn.session, number)
    if target is None or target.id == report.id:
        turn.say(
            _("Please type the number of another existing report, e.g. ZF2026-000123, or /cancel.")
        )
        return State.MERGE
    assert target.id is not None
    outcome = await apply_as(turn, report, Merge(target.id))
    await set_target(turn, TARGETS, None)
    if isinstance(outcome, Refused):
        turn.say(await refusal(turn, report, outcome))
        return END
    turn.say(
        _("Report {number} was merged into {target}.").format(
            number=report.number, target=target.number
        )
    )
    into = target.number

    def for_reporter(_: Translator) -> tuple[str, Keyboard | None]:
        return (
            _(
                "Your report {number} concerns the same matter as report {target}: the two are "
                "handled together, and /status {number} shows the progress."
            ).format(number=report.number, target=into),
            None,
        )

    await notify_reporter(turn, report, for_reporter)
    return END


@turn_handler
async def cancel(turn: Turn) -> int:
    """Leave the triage step; nothing is changed."""
    await set_target(turn, TARGETS, None)
    turn.say(turn._("Cancelled. Nothing was changed. Send /inbox to see the inbox."))
    return END


def build_handler() -> ConversationHandler[BotContext]:
    return conversation(
        entry_points=[
            CommandHandler("inbox", inbox, filters=PRIVATE),
            CallbackQueryHandler(assign, pattern=cb.INBOX_ASSIGN.pattern),
            CallbackQueryHandler(action, pattern=cb.INBOX_ACTION.pattern),
            CallbackQueryHandler(page_button, pattern=cb.INBOX_PAGE.pattern),
            CallbackQueryHandler(open_button, pattern=cb.INBOX_OPEN.pattern),
        ],
        states={
            State.UNIT: [MessageHandler(TEXT, search_unit), stay_in(State.UNIT)],
            State.REASON: [MessageHandler(TEXT, take_reason), stay_in(State.REASON)],
            State.MERGE: [MessageHandler(TEXT, take_merge), stay_in(State.MERGE)],
            State.CLOSE: [MessageHandler(TEXT, take_close_note), stay_in(State.CLOSE)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name=CONVERSATION,
        persistent=True,
        allow_reentry=True,
    )
