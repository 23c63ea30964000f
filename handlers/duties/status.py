"""/duties status [ID] [PERIOD] for the office: who filed on time, late, or not at all, and a
button that reminds the missing units now.

Only calls whose first argument is `status` come here (the liaisons' `/duties` list answers the
rest). A reminder is a notice like any other, keyed per submission, liaison and local day
(`db.duties.status.plan_reminders`), so pressing the button twice on one day reminds nobody
twice; it is sent right after the commit instead of waiting for the next scan.
"""

from __future__ import annotations

import re

from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.runtime import callbacks as cb
from bot.runtime.admin import audit, require_admin
from bot.runtime.duty_labels import CELL_LABELS, CELL_MARKS
from bot.runtime.i18n import N_, gettext_for
from bot.runtime.period_text import period_label
from bot.runtime.render import MESSAGE_MAX, cut, esc, fit_lines, local_time
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Outgoing, Turn, turn_handler
from db.calendar.workdays import local_date
from db.duties.status import (
    CELL_ORDER,
    Cell,
    UnitCell,
    active_obligations,
    counts,
    latest_period,
    opened_periods,
    plan_reminders,
    unit_cells,
)
from db.models import Obligation
from handlers.duties.filing import file_button

STATUS_TEXT = re.compile(r"^\s*/duties(@\w+)?\s+status\b", re.IGNORECASE)
MATRIX_MAX_DUTIES = 8
"""Columns of the several-duty matrix; more would not read on a phone."""
FILE_LABEL = N_("File it")


def _counts_line(turn: Turn, cells: list[UnitCell]) -> str:
    found = counts(cells)
    return " · ".join(
        f"{CELL_MARKS[c]} {turn._(CELL_LABELS[c])} {found[c]}" for c in CELL_ORDER if found[c]
    )


def _fit(turn: Turn, head: list[str], lines: list[str]) -> str:
    """Head and as many lines as fit one message, then how many were left out."""
    return fit_lines(
        "\n".join(head),
        lines,
        lambda rest: turn._("… and {count} more units.").format(count=rest),
        lambda text: len(text) <= MESSAGE_MAX - 80,
    )


async def _one(turn: Turn, obligation: Obligation, period: str | None) -> None:
    _ = turn._
    assert obligation.id is not None
    known = await opened_periods(turn.session, obligation.id)
    if period is None:
        period = await latest_period(turn.session, obligation.id)
    if period is None:
        turn.say(_("Duty #{id} has no open period yet.").format(id=obligation.id))
        return
    # Typed in any case: 2026-q1 and ONCE name the keys 2026-Q1 and once.
    period = next((k for k in known if k.lower() == period.lower()), period)
    if period not in known:
        turn.say(
            _("Duty #{id} has no period {period}. Its periods: {known}.").format(
                id=obligation.id, period=esc(cut(period, 40)), known=", ".join(known) or "—"
            )
        )
        return
    tz = turn.services.settings.tz
    cells = await unit_cells(turn.session, obligation.id, period, turn.now)
    due = local_time(min(c.submission.due_at for c in cells), tz) if cells else "—"
    head = [
        _("<b>#{id} {title}</b> · period {period} · due {due}").format(
            id=obligation.id, title=esc(obligation.title), period=period_label(period, _), due=due
        ),
        _counts_line(turn, cells),
        "",
    ]
    lines = []
    for item in cells:
        line = f"{CELL_MARKS[item.cell]} {esc(item.department.code)} {esc(item.department.name)}"
        if item.submission.first_submitted_at is not None:
            line += " · " + _("filed {time} (#{id})").format(
                time=local_time(item.submission.first_submitted_at, tz), id=item.submission.id
            )
        lines.append(line)
    missing = sum(1 for c in cells if c.cell is Cell.missing)
    keyboard: Keyboard | None = None
    if missing:
        keyboard = [
            [
                (
                    _("Remind the {count} missing units now").format(count=missing),
                    cb.DUTY_REMIND.pack(obligation.id, period),
                )
            ]
        ]
    turn.say(_fit(turn, head, lines), keyboard)


async def _matrix(turn: Turn) -> None:
    """Units by duty, each duty at its latest period."""
    _ = turn._
    obligations = (await active_obligations(turn.session))[-MATRIX_MAX_DUTIES:]
    columns: list[tuple[Obligation, str, dict[int, Cell]]] = []
    head = [_("<b>Duties status</b> (each at its latest period; /duties status ID for one)")]
    units: dict[int, tuple[str, str]] = {}
    for obligation in obligations:
        assert obligation.id is not None
        period = await latest_period(turn.session, obligation.id)
        if period is None:
            continue
        cells = await unit_cells(turn.session, obligation.id, period, turn.now)
        for item in cells:
            assert item.department.id is not None
            units[item.department.id] = (item.department.code, item.department.name)
        columns.append((obligation, period, {c.department.id or 0: c.cell for c in cells}))
        # Numbered by column, not by duty: a duty without an open period has no column.
        head.append(
            _("{number}. #{id} {title} ({period}): {counts}").format(
                number=len(columns),
                id=obligation.id,
                title=esc(obligation.title),
                period=period_label(period, _),
                counts=_counts_line(turn, cells),
            )
        )
    if not columns:
        turn.say(_("No duty has an open period yet. /duty creates one."))
        return
    head += ["", " ".join(str(n) for n in range(1, len(columns) + 1))]
    lines = []
    for unit_id, (code, name) in sorted(units.items(), key=lambda u: u[1][0]):
        marks = " ".join(
            CELL_MARKS[cells[unit_id]] if unit_id in cells else "·" for _o, _p, cells in columns
        )
        lines.append(f"{marks}  {esc(code)} {esc(name)}")
    turn.say(_fit(turn, head, lines))


@turn_handler
async def status(turn: Turn) -> None:
    """`/duties status` (every duty), `/duties status ID [PERIOD]` (one duty, one period)."""
    if not await require_admin(turn):
        return
    args = (turn.context.args or [])[1:]
    if not args:
        await _matrix(turn)
        return
    word = args[0].lstrip("#")
    duty_id = cb.as_int(word)
    obligation = await turn.session.get(Obligation, duty_id) if duty_id else None
    if obligation is None or len(args) > 2:
        turn.say(
            turn._(
                "No duty has the number {id}. /duty list shows them; then /duties status ID "
                "[PERIOD], e.g. /duties status 1 2026-Q1."
            ).format(id=esc(cut(args[0], 40)))
        )
        return
    await _one(turn, obligation, args[1] if len(args) == 2 else None)


@turn_handler
async def remind(turn: Turn) -> None:
    """Remind the liaisons of every unit still missing, once per liaison and day."""
    if not await require_admin(turn):
        return
    fields = cb.DUTY_REMIND.unpack(turn.callback_data)
    obligation_id = cb.as_int(fields["obligation"]) if fields else None
    obligation = await turn.session.get(Obligation, obligation_id) if obligation_id else None
    period = fields["period"] if fields else ""
    if (
        obligation is None
        or obligation.id is None
        or period not in await opened_periods(turn.session, obligation.id)
    ):
        turn.toast = turn._("This button is no longer valid.")
        turn.clear_keyboard = True
        return
    if not obligation.active:
        turn.toast = turn._("Duty #{id} is switched off: nobody is reminded of it.").format(
            id=obligation.id
        )
        turn.clear_keyboard = True
        return
    settings = turn.services.settings
    today = local_date(turn.now, settings.tz)
    plan = await plan_reminders(turn.session, obligation.id, period, turn.now, today)
    notices = []
    for reminder in plan.reminders:
        submission, person = reminder.submission, reminder.recipient
        assert submission.id is not None
        _ = gettext_for(person.language)
        text = _(
            "Reminder from the campaign office: <b>{title}</b> ({period}) was due {due} and "
            "your unit has not filed it yet. Please file it now."
        ).format(
            title=esc(obligation.title),
            period=esc(period_label(period, _)),
            due=local_time(submission.due_at, settings.tz),
        )
        keyboard = file_button(_, submission.id, FILE_LABEL)
        notices.append(Outgoing(person.telegram_id, text, keyboard, key=reminder.key))
    turn.notify(notices)
    reminded, already, unreachable = plan.reminded, plan.already, plan.unreachable
    await audit(
        turn,
        "duty.remind",
        f"duty:{obligation.id}",
        after={"period": period, "units": reminded, "already": already, "no_liaison": unreachable},
    )
    turn.say(
        turn._(
            "Reminders for #{id} ({period}): {reminded} units reminded now; {already} already "
            "reminded today; {none} without a reachable liaison."
        ).format(
            id=obligation.id,
            period=esc(period_label(period, turn._)),
            reminded=reminded,
            already=already,
            none=unreachable,
        )
    )


def build_handlers() -> list[Handler]:
    return [
        CommandHandler(
            "duties",
            status,
            filters=filters.ChatType.PRIVATE & filters.Regex(STATUS_TEXT),
        ),
        CallbackQueryHandler(remind, pattern=cb.DUTY_REMIND.pattern),
    ]
