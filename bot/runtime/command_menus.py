"""The command menu each person sees in Telegram, by the roles they hold, in their language.

Set per chat (`BotCommandScopeChat`) when a role is granted or ends, and for the config's admins
at start-up, so a liaison's menu offers /duties and an admin's the office's commands.
"""

from __future__ import annotations

import logging

from telegram import Bot, BotCommand, BotCommandScopeChat
from telegram.error import TelegramError

from bot.runtime.i18n import N_, gettext_for
from bot.runtime.settings import Settings
from bot.runtime.turn import Turn
from db.engine import SessionFactory
from db.models import Account, Role
from db.people.accounts import account_by_telegram_id
from db.people.roles import account_roles

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
DUTIES_COMMAND = ("duties", N_("What your unit owes: reports and self-checks"))
LEDGER_COMMAND = ("ledger", N_("Rectification ledger (整改台账): /ledger [ID]"))
POSTER_COMMAND = ("poster", N_("Rating poster of a window (评价海报): /poster W002"))
RATELINK_COMMAND = ("ratelink", N_("Single-use rating link for one service: /ratelink W002"))
ROLE_COMMANDS: dict[Role, CommandList] = {
    Role.liaison: [CASE_COMMAND, DUTIES_COMMAND, LEDGER_COMMAND, POSTER_COMMAND, RATELINK_COMMAND],
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
        ("units", N_("Units, with search (admins): /units 公安")),
        ("unit_add", N_("Add a unit (admins): /unit_add CODE NAME KIND [CLASS]")),
        ("unit_rename", N_("Rename a unit (admins): /unit_rename CODE NAME")),
        ("unit_class", N_("Set a unit's class (admins): /unit_class CODE CLASS")),
        ("unit_off", N_("Deactivate a unit (admins): /unit_off CODE")),
        ("unit_on", N_("Reactivate a unit (admins): /unit_on CODE")),
        ("wecom", N_("A unit's WeCom group robot (admins): /wecom D011 URL")),
        ("categories", N_("Report categories and their time limits (admins)")),
        ("category_add", N_("Add a category (admins): /category_add CODE 名称 English name")),
        ("category_rename", N_("Rename a category (admins): /category_rename CODE zh|en NAME")),
        ("category_retire", N_("Retire a category (admins): /category_retire CODE")),
        ("category_limits", N_("A category's time limits (admins): /category_limits CODE 1 10")),
        ("people", N_("Who holds which role (admins): /people [CODE]")),
        ("handover", N_("Hand a unit to a new liaison (admins): /handover D011")),
        ("invite", N_("Invite link for a role (admins): /invite liaison D011")),
        ("revoke", N_("End someone's role (admins): /revoke D011")),
        ("audit", N_("Audit trail (admins): /audit [NUMBER|CODE|@ID]")),
        ("calendar", N_("Working-day calendar and holidays (admins)")),
        ("digest", N_("Monthly digest with chart and workbook (admins): /digest 2026-03")),
        ("campaign", N_("The campaign's phases (admins): /campaign phase 2 2026-03-01 2026-09-30")),
        ("duty", N_("Create, list, edit or switch off duties (admins): /duty list")),
        ("duties", N_("Who filed a duty on time, late or not at all (admins): /duties status")),
        ("submission", N_("One submission with all its rounds: /submission 12")),
        ("anomalies", N_("Anomaly report of a round or month (admins): /anomalies 2026-03")),
        ("exclude", N_("Exclude a ballot or rating, with a reason (admins): /exclude ballot 12 …")),
        POSTER_COMMAND,
        RATELINK_COMMAND,
        (
            "unit_duties",
            N_("A window's published duties for its poster (admins): /unit_duties W002"),
        ),
        ("bulletin", N_("Quarterly bulletin with chart and workbook (admins): /bulletin 2026-Q4")),
        ("publish", N_("Publish a quarter on the public page (admins): /publish 2026-Q4")),
        ("groups", N_("Evaluator groups and their members (admins): /groups members QY")),
        ("round", N_("Appraisal rounds: open, turnout, close (admins): /round list")),
    ],
    Role.evaluator: [("rate_round", N_("Rate the units of an open appraisal round"))],
}
"""Added to the citizen's menu for each role a person holds (`BotCommandScopeChat`)."""
OFFICIAL_ROLES = frozenset({Role.liaison, Role.leader, Role.admin})


def bot_commands(language: str, roles: frozenset[Role] = frozenset()) -> list[BotCommand]:
    """The command menu for someone holding `roles`, in their language; each command once."""
    _ = gettext_for(language)
    listed: dict[str, str] = dict(CITIZEN_COMMANDS[:-2])
    for role in (Role.liaison, Role.leader, Role.admin, Role.evaluator):
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
            account = await account_by_telegram_id(session, telegram_id)
            language = account.language if account else settings.default_language
            await _set_chat_menu(bot, telegram_id, bot_commands(language, frozenset({Role.admin})))
