"""Welcome, help, language, and the answers to everything no flow claimed."""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks as cb
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, N_, gettext_for
from bot.turn import Keyboard, Turn, turn_handler
from db.accounts import set_language
from handlers import followup

PRIVATE = filters.ChatType.PRIVATE

COMMANDS: list[tuple[str, str]] = [
    ("start", N_("Main menu")),
    ("report", N_("File a report")),
    ("myreports", N_("My reports")),
    ("status", N_("Status of one of my reports: /status ZF2026-000123")),
    ("receipt", N_("Open a report with its receipt code")),
    ("lang", N_("Language / 语言")),
    ("whoami", N_("My roles")),
    ("case", N_("One report's timeline, as your role sees it: /case ZF2026-000123")),
    ("inbox", N_("Triage inbox (admins)")),
    ("calendar", N_("Working-day calendar and holidays (admins)")),
    ("digest", N_("Monthly digest with chart and workbook (admins): /digest 2026-03")),
    ("wecom", N_("A unit's WeCom group robot (admins): /wecom D011 URL")),
    ("broadcast", N_("A notice to liaisons (admins): /broadcast all")),
    ("cases", N_("Find reports (admins): /cases state=signed unit=D011 overdue")),
    ("export", N_("The month's reports as a workbook (admins): /export 2026-03")),
    ("invite", N_("Invite link for a role (admins): /invite liaison D011")),
    ("revoke", N_("End someone's role (admins): /revoke D011")),
    ("help", N_("Help")),
    ("cancel", N_("Leave the current step")),
]


def bot_commands(language: str) -> list[BotCommand]:
    _ = gettext_for(language)
    return [BotCommand(name, _(description)) for name, description in COMMANDS]


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
        "/report — file a report about the work style of an official, a department or a "
        "service window\n"
        "/myreports — your reports and where they stand\n"
        "/status NUMBER — one of your reports, e.g. /status ZF2026-000123\n"
        "/receipt CODE — open a report filed fully anonymously\n"
        "/lang — switch between 中文 and English\n"
        "/cancel — leave the current step; nothing half-done is kept\n\n"
        "The department a report is about never learns who sent it unless you chose to give "
        "your real name."
    )


@turn_handler
async def start(turn: Turn) -> None:
    """Greet and show the main menu."""
    _ = turn._
    turn.say(
        _(
            "<b>Welcome to Zhengfeng (正风)</b>, the reporting channel of the work-style "
            "campaign. Report officials or service windows that do not act, act slowly or "
            "act wrongly; every report gets a number and an answer."
        ),
        main_menu(turn),
    )


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


@turn_handler
async def group_chat(turn: Turn) -> None:
    """Keep reporting out of groups, where everyone would see who reports."""
    turn.say(turn._("To protect reporters, please talk to me in a private chat."))


def build_handlers() -> list[BaseHandler[object, object, object]]:
    return [
        CommandHandler("start", start, filters=PRIVATE),
        CommandHandler("help", show_help, filters=PRIVATE),
        CommandHandler("lang", choose_language, filters=PRIVATE),
        CallbackQueryHandler(set_language_button, pattern=cb.LANGUAGE.pattern),
        CallbackQueryHandler(menu_button, pattern=cb.MENU.pattern),
    ]


def build_last_resort_handlers() -> list[BaseHandler[object, object, object]]:
    """Registered after every flow, so they only see what nothing else wanted."""
    return [
        MessageHandler(filters.COMMAND & ~PRIVATE, group_chat),
        MessageHandler(filters.COMMAND & PRIVATE, unknown_command),
        MessageHandler(PRIVATE & ~filters.COMMAND, stray_input),
        CallbackQueryHandler(stale_button),
    ]
