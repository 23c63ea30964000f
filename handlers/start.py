"""Welcome, help, language, and the answers to everything no flow claimed."""

from __future__ import annotations

import logging

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.runtime import callbacks as cb
from bot.runtime.command_menus import OFFICIAL_ROLES
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import LANGUAGE_NAMES, LANGUAGES
from bot.runtime.render import esc
from bot.runtime.services import Handler
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.calendar.workdays import local_date
from db.office.campaigns import current_phase
from db.people.accounts import set_language
from db.people.roles import account_roles
from handlers.cases import followup

log = logging.getLogger(__name__)


def main_menu(turn: Turn) -> Keyboard:
    _ = turn._
    return [
        [(_("File a report"), cb.MENU.pack("report"))],
        [(_("My reports"), cb.MENU.pack("mine")), (_("Receipt code"), cb.MENU.pack("receipt"))],
        [(_("Help"), cb.MENU.pack("help")), (_("Language / 语言"), cb.MENU.pack("lang"))],
    ]


def help_text(turn: Turn) -> str:
    _ = turn._
    return _(
        "<b>How to use this bot</b>\n"
        "/report — file a report about the work style of an official, a unit or a "
        "service window\n"
        "/myreports — your reports and where they stand\n"
        "/status NUMBER — one of your reports, e.g. /status ZF2026-000123\n"
        "/receipt CODE — open a report filed fully anonymously\n"
        "/lang — switch between 中文 and English\n"
        "/cancel — leave the current step; nothing half-done is kept\n\n"
        "The unit a report is about never learns who sent it unless you chose to give "
        "your real name."
    )


async def phase_line(turn: Turn) -> str | None:
    """For officials only: which phase of the campaign it is (citizens need not care)."""
    roles = await account_roles(turn.session, turn.account, turn.services.settings.admin_ids)
    if not roles & OFFICIAL_ROLES:
        return None
    today = local_date(turn.now, turn.services.settings.tz)
    found = await current_phase(turn.session, today)
    if found is None:
        return None
    return turn._("Campaign {campaign}: now in phase {phase} ({start} – {end}).").format(
        campaign=esc(found.campaign.name),
        phase=esc(found.phase.name),
        start=f"{found.phase.starts_on:%Y-%m-%d}",
        end=f"{found.phase.ends_on:%Y-%m-%d}",
    )


@turn_handler
async def start(turn: Turn) -> None:
    """Greet and show the main menu."""
    _ = turn._
    welcome = _(
        "<b>Welcome to Zhengfeng (正风)</b>, the reporting channel of the work-style "
        "campaign. Report officials or service windows that do not act, act slowly or "
        "act wrongly; every report gets a number and an answer."
    )
    phase = await phase_line(turn)
    turn.say("\n\n".join([welcome, phase]) if phase else welcome, main_menu(turn))


@turn_handler
async def show_help(turn: Turn) -> None:
    """Explain the commands."""
    turn.say(help_text(turn))


@turn_handler
async def choose_language(turn: Turn) -> None:
    """Offer the languages."""
    rows: Keyboard = [[(LANGUAGE_NAMES[code], cb.LANGUAGE.pack(code))] for code in LANGUAGES]
    turn.say(turn._("Choose your language:"), rows)


@turn_handler
async def set_language_button(turn: Turn) -> None:
    """Switch the account's language."""
    fields = cb.LANGUAGE.unpack(turn.callback_data)
    code = fields["code"] if fields else None
    if code not in LANGUAGES:
        turn.toast = turn._("That choice is not available. Please choose again.")
        return
    turn.clear_keyboard = True
    await set_language(turn.session, turn.account, code)
    turn.say(turn._("Language set to {name}.").format(name=LANGUAGE_NAMES[code]), main_menu(turn))


@turn_handler
async def menu_button(turn: Turn) -> None:
    """Answer the main-menu buttons that are not entry points of a flow."""
    fields = cb.MENU.unpack(turn.callback_data)
    action = fields["action"] if fields else None
    if action == "help":
        turn.say(help_text(turn))
    elif action == "lang":
        rows: Keyboard = [[(LANGUAGE_NAMES[c], cb.LANGUAGE.pack(c))] for c in LANGUAGES]
        turn.say(turn._("Choose your language:"), rows)
    elif action == "mine":
        await followup.say_my_reports(turn)
    elif action == "receipt":
        turn.say(
            turn._("Send /receipt followed by your code, e.g. /receipt ABCD-EFGH-JKMN-PQRS-TVWX.")
        )
    else:
        turn.toast = turn._("This button is no longer valid.")


@turn_handler
async def unknown_command(turn: Turn) -> None:
    """Say that the command does not exist."""
    turn.say(turn._("I do not know that command. Send /help to see what I can do."))


@turn_handler
async def stray_input(turn: Turn) -> None:
    """Answer messages outside any flow with the way forward."""
    turn.say(
        turn._("To file a report send /report; to see your reports send /myreports."),
        main_menu(turn),
    )


@turn_handler
async def stale_button(turn: Turn) -> None:
    """Refuse buttons of finished or foreign flows, and remove them."""
    turn.toast = turn._("This button is no longer valid.")
    turn.clear_keyboard = True


def build_handlers() -> list[Handler]:
    return [
        CommandHandler("start", start, filters=PRIVATE),
        CommandHandler("help", show_help, filters=PRIVATE),
        CommandHandler("lang", choose_language, filters=PRIVATE),
        CallbackQueryHandler(set_language_button, pattern=cb.LANGUAGE.pattern),
        CallbackQueryHandler(menu_button, pattern=cb.MENU.pattern),
    ]


def build_last_resort_handlers() -> list[Handler]:
    """Registered after every flow, so they only see what nothing else wanted."""
    return [
        MessageHandler(filters.COMMAND & PRIVATE, unknown_command),
        MessageHandler(PRIVATE & ~filters.COMMAND, stray_input),
        CallbackQueryHandler(stale_button),
    ]
