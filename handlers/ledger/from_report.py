"""`/ledger from ZF2026-000123 2026-12-31 整改要求`: an admin turns a closed report whose answer
promised a fix into an item of its unit's ledger (source: report), so the promise is tracked to
completion like any finding."""

from __future__ import annotations

from bot.runtime.render import esc
from bot.runtime.turn import Turn
from db.calendar.date_input import DateProblem, parse_due_date
from db.cases.reports import parse_number
from db.ledger.items import NewItem
from db.ledger.updates import FromReportProblem, record_finding, report_for_ledger
from db.models import Department, LedgerSource
from db.validation import check_length, clean_text
from handlers.ledger.items import (
    date_problem,
    due_time,
    item_label,
    local_today,
    new_item_framing,
    tell_unit,
)


async def from_report(turn: Turn, args: str) -> None:
    """Check the words, the report and the day, then record the item and tell the unit."""
    _ = turn._
    parts = args.split(maxsplit=2)
    number = parse_number(parts[0]) if parts else None
    note = clean_text(parts[2]) if len(parts) == 3 else ""
    maximum = turn.services.settings.duties.max_text_chars
    if number is None or len(parts) < 3 or check_length(note, 1, maximum) is not None:
        turn.say(
            _(
                "Send /ledger from NUMBER DUE-DATE what must be rectified, for example: "
                "/ledger from ZF2026-000123 2026-12-31 窗口服务规范整改 (at most {max} "
                "characters)."
            ).format(max=maximum)
        )
        return
    report = await report_for_ledger(turn.session, number)
    if report is FromReportProblem.unknown:
        turn.say(_("There is no report {number}.").format(number=esc(number)))
        return
    if report is FromReportProblem.not_closed:
        turn.say(
            _("Report {number} is not closed yet; its unit is still handling it.").format(
                number=number
            )
        )
        return
    if report is FromReportProblem.unit_inactive:
        turn.say(
            _(
                "The unit that handled report {number} is inactive: nobody there would keep the "
                "item. Activate it again with /unit_on first."
            ).format(number=number)
        )
        return
    if isinstance(report, FromReportProblem):
        turn.say(_("Report {number} has no unit that handled it.").format(number=number))
        return
    day = parse_due_date(parts[1], local_today(turn))
    if isinstance(day, DateProblem):
        turn.say(date_problem(turn, day))
        return
    assert report.handling_department_id is not None
    item = await record_finding(
        turn.session,
        NewItem(
            department_id=report.handling_department_id,
            source=LedgerSource.report,
            description=note,
            due_at=due_time(turn, day),
            category_id=report.category_id,
            report_id=report.id,
        ),
        (),
        actor_account_id=turn.account.id,
        now=turn.now,
    )
    assert item.id is not None
    unit = await turn.session.get(Department, item.department_id)
    turn.say(
        _("{item} was added to the ledger of {unit} from report {number}.").format(
            item=item_label(_, item.id), unit=esc(unit.name if unit else "—"), number=number
        )
    )
    await tell_unit(turn, item, new_item_framing(item.id, item))
