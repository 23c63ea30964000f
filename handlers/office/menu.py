"""/admin: the campaign office's tasks as buttons.

A button either runs the task (the lists: units, categories, people, audit) or tells the typed
command, since those need a code or a choice the admin types anyway. Every press checks the
admin again: the menu message may outlive the role.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.runtime import callbacks as cb
from bot.runtime.admin import require_admin
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import N_, Translator
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from handlers.office.audit import say_audit
from handlers.office.categories import say_categories
from handlers.office.units import say_units
from handlers.people.roster import say_people

TASKS: dict[str, tuple[str, str]] = {
    "inbox": (N_("Triage inbox"), N_("Send /inbox: new, returned and escalated reports.")),
    "units": (N_("Units"), ""),
    "unit_edit": (
        N_("Add or change a unit"),
        N_(
            "/unit_add CODE NAME KIND [CLASS] — add\n/unit_rename CODE NAME — rename\n"
            "/unit_class CODE CLASS — set the class\n/unit_off CODE — deactivate (only without "
            "open reports)\n/unit_on CODE — reactivate"
        ),
    ),
    "wecom": (
        N_("WeCom robot"),
        N_("/wecom CODE — show; /wecom CODE URL — set; /wecom CODE off — remove."),
    ),
    "categories": (N_("Categories and time limits"), ""),
    "people": (N_("People and roles"), ""),
    "invite": (
        N_("Invite"),
        N_("/invite liaison CODE, /invite leader CODE or /invite admin: a single-use link."),
    ),
    "revoke": (
        N_("End a role"),
        N_("/revoke CODE or /revoke TELEGRAM_ID: the roles, with a button to end each."),
    ),
    "handover": (
        N_("Hand over a unit"),
        N_("/handover CODE [TELEGRAM_ID]: from one liaison to another person or a link."),
    ),
    "audit": (N_("Audit trail"), ""),
    "calendar": (N_("Calendar"), N_("Send /calendar: holidays and make-up working days.")),
    "digest": (N_("Monthly digest"), N_("Send /digest [YYYY-MM].")),
}
LAYOUT: tuple[tuple[str, ...], ...] = (
    ("inbox",),
    ("units", "unit_edit"),
    ("wecom", "categories"),
    ("people", "handover"),
    ("invite", "revoke"),
    ("audit", "calendar", "digest"),
)


def admin_keyboard(_: Translator) -> Keyboard:
    return [[(_(TASKS[task][0]), cb.ADMIN_MENU.pack(task)) for task in row] for row in LAYOUT]


@turn_handler
async def admin(turn: Turn) -> None:
    """Show the admin menu."""
    if await require_admin(turn):
        turn.say(turn._("<b>Campaign office</b>: choose a task."), admin_keyboard(turn._))


@turn_handler
async def admin_task(turn: Turn) -> None:
    """Run a list task, or say how to type the others."""
    if not await require_admin(turn):
        return
    fields = cb.ADMIN_MENU.unpack(turn.callback_data)
    task = fields["task"] if fields else ""
    if task == "units":
        await say_units(turn, "")
    elif task == "categories":
        await say_categories(turn)
    elif task == "people":
        await say_people(turn)
    elif task == "audit":
        await say_audit(turn, "")
    elif task in TASKS:
        turn.say(turn._(TASKS[task][1]))
    else:
        turn.toast = turn._("This button is no longer valid.")


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("admin", admin, filters=PRIVATE),
        CallbackQueryHandler(admin_task, pattern=cb.ADMIN_MENU.pattern),
    ]
