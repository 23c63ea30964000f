"""Welcome, help, language, and the answers to everything no flow claimed."""

from __future__ import annotations

import logging

from sqlmodel import col, select
from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.runtime import callbacks as cb
from bot.runtime.conversation import PRIVATE
from bot.runtime.i18n import LANGUAGE_NAMES, LANGUAGES, N_, gettext_for
from bot.runtime.render import esc
from bot.runtime.settings import Settings
from bot.runtime.turn import Keyboard, Turn, turn_handler
from db.calendar.workdays import local_date
from db.engine import SessionFactory
from db.models import Account, Role
from db.office.campaigns import current_phase
from db.people.accounts import set_language
from db.people.roles import account_roles
from handlers.cases import followup

log = logging.getLogger(__name__)


CommandList = list[tuple[str, str]]

CITIZEN_COMMANDS: CommandList = [
    ("start", N_("Main menu")),
    ("report", N_("File a report")),
    ("myreports", N_("My reports")),
    ("status", N_("Status of one of my reports: /status ZF2026-000123")),
    ("receipt", N_("Open a report with its receipt code")),
    ("lang", N_("Language / 语言")),
    ("whoami", N_("My roles")),
    ("help", N_("Help")),
    ("cancel", N_("Leave the current step")),
]
"""Everyone's menu, and the bot-wide default."""

CASE_COMMAND = ("case", N_("One report's timeline, as your role sees it: /case ZF2026-000123"))
DUTIES_COMMAND = ("duties", N_("What your department owes: reports and self-checks"))
LEDGER_COMMAND = ("ledger", N_("Rectification ledger (整改台账): /ledger [ID]"))
ROLE_COMMANDS: dict[Role, CommandList] = {
    Role.liaison: [CASE_COMMAND, DUTIES_COMMAND, LEDGER_COMMAND],
    Role.leader: [CASE_COMMAND, DUTIES_COMMAND, LEDGER_COMMAND],
    Role.admin: [
        ("admin", N_("Admin menu (admins)")),
        CASE_COMMAND,
        ("ledger", N_("Rectification ledger (admins): /ledger all, /ledger D011, /ledger 12")),
        ("inspect", N_("Record an inspection finding (明察暗访) (admins)")),
        ("inbox", N_("Triage inbox (admins)")),
        ("cases", N_("Find reports (admins): /cases state=signed unit=D011 overdue")),
        ("export", N_("The month's reports as a workbook (admins): /export 2026-03")),
        ("broadcast", N_("A notice to liaisons (admins): /broadcast all")),
        ("units", N_("Departments, with search (admins): /units 公安")),
        ("unit_add", N_("Add a department (admins): /unit_add CODE NAME KIND [CLASS]")),
        ("unit_rename", N_("Rename a department (admins): /unit_rename CODE NAME")),
        ("unit_class", N_("Set a department's class (admins): /unit_class CODE CLASS")),
        ("unit_off", N_("Deactivate a department (admins): /unit_off CODE")),
        ("unit_on", N_("Reactivate a department (admins): /unit_on CODE")),
        ("wecom", N_("A unit's WeCom group robot (admins): /wecom D011 URL")),
        ("categories", N_("Report categories and their time limits (admins)")),
        ("category_add", N_("Add a category (admins): /category_add CODE 名称 English name")),
        ("category_rename", N_("Rename a category (admins): /category_rename CODE zh|en NAME")),
        ("category_retire", N_("Retire a category (admins): /category_retire CODE")),
        ("category_limits", N_("A category's time limits (admins): /category_limits CODE 1 10")),
        ("people", N_("Who holds which role (admins): /people [CODE]")),
        ("handover", N_("Hand a department to a new liaison (admins): /handover D011")),
        ("invite", N_("Invite link for a role (admins): /invite liaison D011")),
        ("revoke", N_("End someone's role (admins): /revoke D011")),
        ("audit", N_("Audit trail (admins): /audit [NUMBER|CODE|@ID]")),
        ("calendar", N_("Working-day calendar and holidays (admins)")),
        ("digest", N_("Monthly digest with chart and workbook (admins): /digest 2026-03")),
        ("campaign", N_("The campaign's phases (admins): /campaign phase 2 2026-03-01 2026-09-30")),
        ("duty", N_("Create, list, edit or switch off duties (admins): /duty list")),
        ("duties", N_("Who filed a duty on time, late or not at all (admins): /duties status")),
        ("submission", N_("One submission with all its rounds: /submission 12")),
    ],
}
"""Added to the citizen's menu for each role a person holds (`BotCommandScopeChat`)."""
OFFICIAL_ROLES = frozenset({Role.liaison, Role.leader, Role.admin})


def bot_commands(language: str, roles: frozenset[Role] = frozenset()) -> list[BotCommand]:
    """The command menu for someone holding `roles`, in their language; each command once."""
    _ = gettext_for(language)
    listed: dict[str, str] = dict(CITIZEN_COMMANDS[:-2])
    for role in (Role.liaison, Role.leader, Role.admin):
        if role in roles:
            listed.update(ROLE_COMMANDS[role])
    listed.update(CITIZEN_COMMANDS[-2:])
    return [BotCommand(name, _(description)) for name, description in listed.items()]


async def _set_chat_menu(bot: Bot, chat_id: int, commands: list[BotCommand]) -> None:
    # A menu is a convenience: a refusal (a chat that never opened the bot, a block) must not
    # undo or hide the role change it follows, so it is only logged.
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    except TelegramError:
        log.warning("command menu of a chat not set", exc_info=True)


async def refresh_command_menu(turn: Turn, account: Account) -> None:
    """After this turn commits, give the account the menu of the roles it holds then."""
    roles = await account_roles(turn.session, account, turn.services.settings.admin_ids)
    commands = bot_commands(account.language, roles)
    bot, chat_id = turn.context.bot, account.telegram_id
    turn.after_commit.append(lambda: _set_chat_menu(bot, chat_id, commands))


async def set_config_admin_menus(bot: Bot, sessions: SessionFactory, settings: Settings) -> None:
    """At start-up: the admins of the config file hold their role without any invite, so their
    menu is set here (in their language once they have talked to the bot)."""
    async with sessions() as session:
        for telegram_id in settings.admin_ids:
            statement = select(Account).where(col(Account.telegram_id) == telegram_id)
            account = (await session.exec(statement)).first()
            language = account.language if account else settings.default_language
            await _set_chat_menu(bot, telegram_id, bot_commands(language, frozenset({Role.admin})))


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
