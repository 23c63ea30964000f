"""Departments for admins: /units (list and search, paged), /unit_add, /unit_rename,
/unit_class, /unit_off and /unit_on. The WeCom robot stays with /wecom (handlers/office/wecom.py).

Every change is one audit event in the same transaction. A unit with open reports cannot be
deactivated: nobody would sign for or answer them, so the admin is told which to reassign first.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.runtime import callbacks as cb
from bot.runtime.admin import audit, require_admin, unit_or_say
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import N_, Translator
from bot.runtime.render import MESSAGE_MAX, cut, esc
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.cases.reports import deactivate_department
from db.models import Department
from db.people.departments import (
    DEPARTMENT_CLASSES,
    UnitProblem,
    add_department,
    list_departments,
    parse_class,
    reactivate_department,
    rename_department,
    set_department_class,
)

PAGE_SIZE = 15
NUMBERS_SHOWN = 30

KIND_LABELS: dict[str, str] = {
    "department": N_("department"),
    "window": N_("window"),
    "key_position": N_("key position"),
    "project": N_("project"),
    "district": N_("district"),
}

PROBLEMS: dict[UnitProblem, str] = {
    UnitProblem.bad_code: N_(
        "A code may have up to 32 letters, digits, _ or -, e.g. D101. Nothing was changed."
    ),
    UnitProblem.duplicate_code: N_(
        "The code {code} is already taken (/units {code}). Nothing was changed."
    ),
    UnitProblem.bad_name: N_("The name must have 1 to 200 characters. Nothing was changed."),
    UnitProblem.bad_kind: N_(
        "The kind must be department, window, key_position, project or district "
        "(部门/窗口/关键部位/项目/区县). Nothing was changed."
    ),
    UnitProblem.bad_class: N_("The class must be one of {classes}, or none. Nothing was changed."),
}


def _problem(problem: UnitProblem, code: str, _: Translator) -> str:
    return _(PROBLEMS[problem]).format(code=esc(code), classes=" ".join(DEPARTMENT_CLASSES))


def unit_line(unit: Department, _: Translator) -> str:
    """One unit as /units and other admin lists show it."""
    parts = [f"<code>{esc(unit.code)}</code> {esc(unit.name)}", _(KIND_LABELS[unit.kind])]
    if unit.dept_class:
        parts.append(esc(unit.dept_class))
    line = " · ".join(parts)
    return line if unit.active else _("{unit} (inactive)").format(unit=line)


def _page_data(page: int, text: str) -> str:
    """The pager's callback data; the search text is cut to fit Telegram's 64 bytes."""
    query = "q" + text.replace(":", " ")
    while True:
        try:
            return cb.UNITS_PAGE.pack(page, query)
        except ValueError:
            query = query[:-1]


async def say_units(turn: Turn, text: str, page: int = 0) -> None:
    """One page of units matching `text`, with buttons to the previous and next pages."""
    _ = turn._
    units, total = await list_departments(
        turn.session, text, offset=page * PAGE_SIZE, limit=PAGE_SIZE
    )
    if total == 0:
        turn.say(_("No unit matches {text}.").format(text=esc(text)))
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    head = _("<b>Units</b> ({total}), page {page} of {pages}").format(
        total=total, page=min(page, pages - 1) + 1, pages=pages
    )
    lines = [head, *(unit_line(unit, _) for unit in units)]
    lines.append(_("Change one: /unit_rename, /unit_class, /unit_off, /unit_on, /wecom."))
    row = []
    if page > 0:
        row.append((_("« Previous"), _page_data(page - 1, text)))
    if page + 1 < pages:
        row.append((_("Next »"), _page_data(page + 1, text)))
    turn.say(cut("\n".join(lines), MESSAGE_MAX), [row] if row else None)


@turn_handler
async def units(turn: Turn) -> None:
    """/units [TEXT]: list the units, or those whose code or name contains TEXT."""
    if not await require_admin(turn):
        return
    await say_units(turn, " ".join(turn.context.args or []))


@turn_handler
async def units_page(turn: Turn) -> None:
    """The pager buttons: show another page of the same search."""
    if not await require_admin(turn):
        return
    fields = cb.UNITS_PAGE.unpack(turn.callback_data)
    page = cb.as_int(fields["page"]) if fields else None
    if fields is None or page is None or not fields["text"].startswith("q"):
        turn.toast = turn._("This button is no longer valid.")
        return
    turn.clear_keyboard = True
    await say_units(turn, fields["text"][1:], page)


@turn_handler
async def unit_add(turn: Turn) -> None:
    """/unit_add CODE NAME KIND [CLASS]: a new unit, active at once."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) not in (3, 4):
        turn.say(
            _(
                "Usage: /unit_add CODE NAME KIND [CLASS], e.g. /unit_add D101 市数据局 department "
                "管理服务. KIND is department, window, key_position, project or district; CLASS "
                "one of {classes}."
            ).format(classes=" ".join(DEPARTMENT_CLASSES))
        )
        return
    code, name, kind = args[0].strip(), args[1], args[2]
    created = await add_department(
        turn.session, code, name, kind, args[3] if len(args) == 4 else None
    )
    if isinstance(created, UnitProblem):
        turn.say(_problem(created, code, _))
        return
    await audit(
        turn,
        "department.add",
        created.code,
        after={"name": created.name, "kind": created.kind.value, "class": created.dept_class},
    )
    turn.say(
        _("Added: {unit}. Invite its liaison with /invite liaison {code}.").format(
            unit=unit_line(created, _), code=esc(created.code)
        )
    )


@turn_handler
async def unit_rename(turn: Turn) -> None:
    """/unit_rename CODE NEW NAME: the name reporters and liaisons see from now on."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) < 2:
        turn.say(_("Usage: /unit_rename CODE NEW_NAME, e.g. /unit_rename D011 市公安局"))
        return
    unit = await unit_or_say(turn, args[0])
    if unit is None:
        return
    name, before = " ".join(args[1:]), unit.name
    problem = await rename_department(turn.session, unit, name)
    if problem is not None:
        turn.say(_problem(problem, unit.code, _))
        return
    await audit(turn, "department.rename", unit.code, {"name": before}, {"name": name})
    turn.say(_("Renamed: {unit}.").format(unit=unit_line(unit, _)))


@turn_handler
async def unit_class(turn: Turn) -> None:
    """/unit_class CODE CLASS|none: the class of seed 003 the digest groups units by."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) != 2:
        turn.say(
            _("Usage: /unit_class CODE CLASS, CLASS one of {classes}, or none.").format(
                classes=" ".join(DEPARTMENT_CLASSES)
            )
        )
        return
    unit = await unit_or_say(turn, args[0])
    if unit is None:
        return
    value = parse_class(args[1])
    if isinstance(value, UnitProblem):
        turn.say(_problem(value, unit.code, _))
        return
    await audit(turn, "department.class", unit.code, {"class": unit.dept_class}, {"class": value})
    await set_department_class(turn.session, unit, value)
    turn.say(_("Class set: {unit}.").format(unit=unit_line(unit, _)))


@turn_handler
async def unit_off(turn: Turn) -> None:
    """/unit_off CODE: no new reports can name or reach the unit; refused while it has open ones."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) != 1:
        turn.say(_("Usage: /unit_off CODE, e.g. /unit_off D011"))
        return
    unit = await unit_or_say(turn, args[0])
    if unit is None:
        return
    if not unit.active:
        turn.say(_("{unit} is already inactive.").format(unit=esc(unit.name)))
        return
    numbers = await deactivate_department(turn.session, unit)
    if numbers:
        shown = ", ".join(numbers[:NUMBERS_SHOWN]) + (" …" if len(numbers) > NUMBERS_SHOWN else "")
        turn.say(
            _(
                "{unit} still has open reports ({count}); reassign them first (/case NUMBER, "
                "/inbox): {numbers}. Nothing was changed."
            ).format(unit=esc(unit.name), count=len(numbers), numbers=esc(shown))
        )
        return
    await audit(turn, "department.deactivate", unit.code, {"active": True}, {"active": False})
    turn.say(
        _("{unit} is inactive: reporters no longer find it. /unit_on {code} undoes this.").format(
            unit=esc(unit.name), code=esc(unit.code)
        )
    )


@turn_handler
async def unit_on(turn: Turn) -> None:
    """/unit_on CODE: make a deactivated unit available again."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if len(args) != 1:
        turn.say(_("Usage: /unit_on CODE, e.g. /unit_on D011"))
        return
    unit = await unit_or_say(turn, args[0])
    if unit is None:
        return
    if unit.active:
        turn.say(_("{unit} is already active.").format(unit=esc(unit.name)))
        return
    await audit(turn, "department.activate", unit.code, {"active": False}, {"active": True})
    await reactivate_department(turn.session, unit)
    turn.say(_("{unit} is active again.").format(unit=esc(unit.name)))


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("units", units, filters=PRIVATE),
        CommandHandler("unit_add", unit_add, filters=PRIVATE),
        CommandHandler("unit_rename", unit_rename, filters=PRIVATE),
        CommandHandler("unit_class", unit_class, filters=PRIVATE),
        CommandHandler("unit_off", unit_off, filters=PRIVATE),
        CommandHandler("unit_on", unit_on, filters=PRIVATE),
        CallbackQueryHandler(units_page, pattern=cb.UNITS_PAGE.pattern),
    ]
