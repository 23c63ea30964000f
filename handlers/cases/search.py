"""/cases for admins: find reports by state, unit, category, overdue and month, 10 a page.

`/cases state=signed unit=D011 category=buck_passing overdue month=2026-03` (any of them, in
any order). The page buttons carry the filters as ids (`bot.runtime.callbacks.CASES_PAGE`); a press
checks the admin again, rebuilds the filter from the button without trusting it, and shows the
page as the data stands now (a page past the end becomes the last one).
"""

from __future__ import annotations

from datetime import date

from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.runtime import callbacks as cb
from bot.runtime.admin import require_admin
from bot.runtime.i18n import N_
from bot.runtime.render import esc, local_time, state_label
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.cases.search import (
    BadFilter,
    CaseFilter,
    CasePage,
    FilterProblem,
    parse_filters,
    search_cases,
)
from db.models import Category, Department, ReportState

NONE = "-"

PROBLEMS: dict[FilterProblem, str] = {
    FilterProblem.unknown_key: N_("I do not understand the filter “{token}”."),
    FilterProblem.bad_state: N_("“{token}” is not a report state."),
    FilterProblem.unknown_unit: N_("No unit has the code “{token}”."),
    FilterProblem.unknown_category: N_("No category is called “{token}”."),
    FilterProblem.bad_month: N_("“{token}” is not a month; write it as YYYY-MM."),
}


def _usage(turn: Turn) -> str:
    states = ", ".join(s.value for s in ReportState)
    return turn._(
        "Filters: state=STATE unit=CODE category=CODE overdue month=YYYY-MM, e.g. "
        "/cases state=signed unit=D011 overdue month=2026-03. States: {states}."
    ).format(states=states)


def _pack(case_filter: CaseFilter, page: int) -> str:
    month = f"{case_filter.month:%Y%m}" if case_filter.month else NONE
    return cb.CASES_PAGE.pack(
        page,
        case_filter.state.value if case_filter.state else NONE,
        case_filter.department_id or NONE,
        case_filter.category_id or NONE,
        "1" if case_filter.overdue else NONE,
        month,
    )


def _unpack(data: str | None) -> tuple[CaseFilter, int] | None:
    """The filter and page of a button, or None when any part is not what we would pack."""
    fields = cb.CASES_PAGE.unpack(data)
    if fields is None:
        return None
    page = cb.as_int(fields["page"])
    state: ReportState | None = None
    if fields["state"] != NONE:
        try:
            state = ReportState(fields["state"])
        except ValueError:
            return None
    ids: list[int | None] = []
    for name in ("unit", "cat"):
        value = fields[name]
        number = None if value == NONE else cb.as_int(value)
        if value != NONE and number is None:
            return None
        ids.append(number)
    month: date | None = None
    if fields["month"] != NONE:
        raw = fields["month"]
        if len(raw) != 6 or not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw[4:]) <= 12:
            return None
        month = date(int(raw[:4]), int(raw[4:]), 1)
    if page is None or fields["overdue"] not in (NONE, "1"):
        return None
    return (
        CaseFilter(
            state=state,
            department_id=ids[0],
            category_id=ids[1],
            overdue=fields["overdue"] == "1",
            month=month,
        ),
        page,
    )


async def _describe(turn: Turn, case_filter: CaseFilter) -> str:
    """The filters in words, for the head of the list."""
    _ = turn._
    parts = []
    if case_filter.state is not None:
        parts.append(state_label(case_filter.state, _))
    if case_filter.department_id is not None:
        unit = await turn.session.get(Department, case_filter.department_id)
        parts.append(unit.name if unit else "—")
    if case_filter.category_id is not None:
        category = await turn.session.get(Category, case_filter.category_id)
        if category is not None:
            parts.append(category.name_en if turn.language == "en" else category.name_zh)
    if case_filter.overdue:
        parts.append(_("overdue"))
    if case_filter.month is not None:
        parts.append(f"{case_filter.month:%Y-%m}")
    return esc(" · ".join(parts)) if parts else _("all reports")


async def _render(turn: Turn, case_filter: CaseFilter, found: CasePage) -> tuple[str, Keyboard]:
    _ = turn._
    tz = turn.services.settings.tz
    head = _("<b>Reports</b> ({filters}): {total} found, page {page} of {pages}.").format(
        filters=await _describe(turn, case_filter),
        total=found.total,
        page=found.page + 1,
        pages=found.pages,
    )
    if not found.lines:
        return head + "\n" + _("No report matches."), []
    lines = [head, ""]
    for line in found.lines:
        category = line.category_en if turn.language == "en" else line.category_zh
        parts = [
            f"<code>/case {line.number}</code>",
            esc(state_label(line.state, _)),
            esc(line.unit or "—"),
            esc(category),
        ]
        if line.due_at is not None:
            due = local_time(line.due_at, tz)
            parts.append(
                _("⚠ overdue since {due}").format(due=due)
                if line.overdue
                else _("due {due}").format(due=due)
            )
        lines.append(" · ".join(parts))
    row = []
    if found.page > 0:
        row.append((_("◀ Previous"), _pack(case_filter, found.page - 1)))
    if found.page + 1 < found.pages:
        row.append((_("Next ▶"), _pack(case_filter, found.page + 1)))
    return "\n".join(lines), [row] if row else []


async def _page(turn: Turn, case_filter: CaseFilter, page: int) -> tuple[str, Keyboard]:
    settings = turn.services.settings
    found = await search_cases(turn.session, case_filter, now=turn.now, tz=settings.tz, page=page)
    return await _render(turn, case_filter, found)


@turn_handler
async def cases(turn: Turn) -> None:
    """List the reports matching the typed filters, first page."""
    _ = turn._
    if not await require_admin(turn):
        return
    parsed = await parse_filters(turn.session, turn.context.args or [])
    if isinstance(parsed, BadFilter):
        problem = _(PROBLEMS[parsed.problem]).format(token=esc(parsed.token))
        turn.say(f"{problem}\n{esc(_usage(turn))}")
        return
    text, keyboard = await _page(turn, parsed, 0)
    turn.say(text, keyboard)


@turn_handler
async def page_button(turn: Turn) -> None:
    """Show another page in place of the pressed one."""
    _ = turn._
    turn.clear_keyboard = True
    if not await require_admin(turn):
        return
    unpacked = _unpack(turn.callback_data)
    if unpacked is None:
        turn.toast = _("This button is no longer valid.")
        return
    case_filter, page = unpacked
    text, keyboard = await _page(turn, case_filter, page)
    turn.say(text, keyboard)


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("cases", cases, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(page_button, pattern=cb.CASES_PAGE.pattern),
    ]
