"""`zhengfeng chat`: the real bot in a terminal, without Telegram and without a token.

The real application (every handler, the database, the outbox sender) talks to the in-process
Bot API double (`bot.fakeapi`), exactly as the tests drive it; this module only plays the
people. The person at the keyboard picks a persona (a citizen, the liaison of 市公安局 D011 or
an admin), types text and commands, picks buttons by number, and switches persona to see the
other side of the same report. The loop reads lines from one stream and writes to another, so a
test can feed it a scripted session.

The console has no quiet hours: what the outbox holds for a persona (a liaison's notice waits
for the send window in production) is delivered at once, so both sides can be tried at night.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import SecretStr
from sqlmodel import col, select
from telegram import Update

from bot.app import BotApplication, build_application
from bot.fakeapi import FakeBotApi, FakeRequest, FakeUser
from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.services import services_of, system_clock
from bot.runtime.settings import DatabaseSettings, Settings, TelegramSettings
from db.engine import create_engine, session_factory
from db.migrate import upgrade_engine
from db.models import Channel, Department, OutboxMessage, Role
from db.people.accounts import get_or_create_account
from db.people.departments import (
    department_by_code,
    import_departments,
    parse_departments_csv,
    sample_csv_path,
)
from db.people.roles import grant_role
from scheduler.delivery.sender import OutboxSender

BOT_USERNAME = "zhengfeng_console_bot"
LIAISON_DEPARTMENT = "D011"
"""市公安局 in the shipped sample: the liaison persona holds this unit."""


@dataclass(frozen=True)
class Persona:
    key: str
    title: str
    """Untranslated (N_) description shown by :help and when switching."""
    user: FakeUser


def personas(language: str) -> dict[str, Persona]:
    """Three people with fixed ids, so a persistent `--database` recognises them next time."""
    code = "en" if language == "en" else "zh-hans"
    return {
        p.key: p
        for p in (
            Persona(
                "citizen", N_("a citizen who reports"), FakeUser(100001, "张三", None, None, code)
            ),
            Persona(
                "liaison",
                N_("the liaison of 市公安局 (D011)"),
                FakeUser(100002, "李联络", None, None, code),
            ),
            Persona(
                "admin",
                N_("the campaign office (admin)"),
                FakeUser(100003, "作风办", None, None, code),
            ),
        )
    }


def console_settings(base: Settings, database_url: str, data_dir: Path) -> Settings:
    """`base` pointed at the double and the console's database, with the admin persona as a
    configured admin and no per-chat pause (one person types; nobody floods anyone)."""
    admin_id = personas(base.default_language)["admin"].user.id
    return base.model_copy(
        update={
            "telegram": TelegramSettings(token=SecretStr(FakeBotApi(validate=False).token)),
            "database": DatabaseSettings(url=database_url),
            "data_dir": data_dir,
            "admin_ids": [*base.admin_ids, admin_id],
            "rate_limit": base.rate_limit.model_copy(update={"chat_interval_seconds": 0}),
        }
    )


async def prepare_console_database(url: str, liaison_telegram_id: int) -> None:
    """Migrate, load the sample units into an empty database and make the liaison persona the
    liaison of D011, so a report can go round the whole loop without inviting anyone first."""
    engine = create_engine(url)
    try:
        await upgrade_engine(engine)
        async with session_factory(engine)() as session:
            if (await session.exec(select(Department).limit(1))).first() is None:
                rows = parse_departments_csv(sample_csv_path().read_bytes())
                await import_departments(session, rows)
            department = await department_by_code(session, LIAISON_DEPARTMENT)
            if department is not None and department.id is not None:
                account, _new = await get_or_create_account(session, liaison_telegram_id, "zh_CN")
                assert account.id is not None
                await grant_role(session, account.id, Role.liaison, department.id, system_clock())
            await session.commit()
    finally:
        await engine.dispose()


_INVITE_LINK = re.compile(r"^https://t\.me/(\w+)\?start=([\w-]+)$")


def render_message(message: dict[str, Any]) -> list[str]:
    """A message as terminal lines: its text (HTML was already parsed into plain text and
    entities by the double), link targets after their words, and files as a bracketed note."""
    text = str(message.get("text") or message.get("caption") or "")
    for entity in reversed(message.get("entities") or message.get("caption_entities") or []):
        if entity.get("type") == "text_link":
            end = entity["offset"] + entity["length"]
            text = f"{text[:end]} <{entity['url']}>{text[end:]}"
    lines = []
    for kind in ("photo", "document"):
        if kind in message:
            name = message[kind].get("file_name", "") if kind == "document" else ""
            lines.append(f"[{kind}{': ' + name if name else ''}]")
    lines += text.splitlines() or [""]
    return lines


class Console:
    """One terminal session: the current persona, what each persona has seen, the choices."""

    def __init__(
        self,
        app: BotApplication,
        api: FakeBotApi,
        out: TextIO,
        language: str,
        persona: str = "citizen",
    ) -> None:
        self.app = app
        self.api = api
        self.out = out
        self._: Translator = gettext_for(language)
        self.personas = personas(language)
        self.current = self.personas[persona]
        self.seen: dict[int, dict[int, dict[str, Any]]] = {}
        self.announced: dict[str, int] = {}
        self.choices: list[tuple[dict[str, Any], str, str]] = []

    def write(self, line: str = "") -> None:
        self.out.write(line + "\n")

    def help(self) -> None:
        _ = self._
        self.write(_("Type text or /commands as the current persona; a number picks a button."))
        self.write(_("Personas (:as NAME to switch):"))
        for persona in self.personas.values():
            self.write(f"  {persona.key:<8} {_(persona.title)}")
        self.write(_(":help this help · :quit leave"))

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False when the session should end."""
        text = line.strip()
        _ = self._
        if text in (":quit", ":q", ":exit"):
            return False
        if text in (":help", ":h", "?"):
            self.help()
            return True
        if text.startswith(":as"):
            key = text[3:].strip()
            if key not in self.personas:
                self.write(_("No such persona: {name}. Try :help.").format(name=key or "—"))
                return True
            self.current = self.personas[key]
            self.write(
                _("— you are now {name}: {title} —").format(name=key, title=_(self.current.title))
            )
            await self.deliver_waiting()
            self.show_new()
            return True
        if text.startswith(":"):
            self.write(_("Unknown console command {command}. Try :help.").format(command=text))
            return True
        if not text:
            return True
        user = self.current.user
        if text.isascii() and text.isdigit() and self.choices:
            index = int(text) - 1
            if not 0 <= index < len(self.choices):
                self.write(_("Pick a number from 1 to {count}.").format(count=len(self.choices)))
                return True
            message, data, _label = self.choices[index]
            if data.startswith("https://"):
                text = data
            else:
                await self.feed(self.api.callback_update(user, message, data))
                return True
        link = _INVITE_LINK.match(text)
        if link and link.group(1) == self.api.bot_username:
            # Opening an invite link in Telegram sends "/start TOKEN" to the bot.
            text = f"/start {link.group(2)}"
        await self.feed(self.api.message_update(user, text))
        return True

    async def feed(self, update: dict[str, Any]) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))
        await self.deliver_waiting()
        self.show_new()
        self.announce_others()

    async def deliver_waiting(self) -> None:
        """Send at once what the outbox holds for the personas (see the module docstring)."""
        services = services_of(self.app)
        sender = services.sender
        if not isinstance(sender, OutboxSender):
            return
        ids = [p.user.id for p in self.personas.values()]
        async with services.sessions() as session:
            rows = (
                await session.exec(
                    select(OutboxMessage).where(
                        col(OutboxMessage.channel) == Channel.telegram,
                        col(OutboxMessage.chat_id).in_(ids),
                        col(OutboxMessage.sent_at).is_(None),
                        col(OutboxMessage.failed_at).is_(None),
                        col(OutboxMessage.skipped_at).is_(None),
                        col(OutboxMessage.claimed_at).is_(None),
                    )
                )
            ).all()
        for row in rows:
            await sender.deliver(row)

    def _unseen(self, persona: Persona) -> list[dict[str, Any]]:
        seen = self.seen.get(persona.user.id, {})
        return [
            m for m in self.api.sent_messages(persona.user.id) if seen.get(m["message_id"]) != m
        ]

    def show_new(self) -> None:
        """Print the current persona's new and changed messages; their buttons become the
        numbered choices."""
        _ = self._
        chat = self.current.user.id
        seen = self.seen.setdefault(chat, {})
        fresh = self._unseen(self.current)
        choices: list[tuple[dict[str, Any], str, str]] = []
        for message in fresh:
            edited = message["message_id"] in seen
            seen[message["message_id"]] = copy.deepcopy(message)
            lines = render_message(message)
            head = _("bot (edited)") if edited else _("bot")
            self.write(f"{head}: {lines[0]}")
            for line in lines[1:]:
                self.write(f"    {line}")
            for row in self.api.buttons(message):
                for label, data in row:
                    if data is None:
                        continue
                    choices.append((message, data, label))
                    shown = f"{label} <{data}>" if data.startswith("https://") else label
                    self.write(f"  [{len(choices)}] {shown}")
        if choices or fresh:
            self.choices = choices
        self.announced[self.current.key] = 0

    def announce_others(self) -> None:
        _ = self._
        for persona in self.personas.values():
            if persona is self.current:
                continue
            count = len(self._unseen(persona))
            if count and count != self.announced.get(persona.key):
                self.write(
                    _("· {count} new message(s) for {name} (:as {name})").format(
                        count=count, name=persona.key
                    )
                )
            self.announced[persona.key] = count


async def run_chat(
    settings: Settings,
    lines: TextIO,
    out: TextIO,
    *,
    language: str = "zh_CN",
    persona: str = "citizen",
    clock: Callable[[], datetime] = system_clock,
    echo: bool = False,
) -> None:
    """Run the console until :quit or the end of `lines`; `echo` repeats each line read (for
    scripts, so the transcript reads like a conversation)."""
    people = personas(language)
    api = FakeBotApi(bot_username=BOT_USERNAME, validate=False)
    for someone in people.values():
        # Each persona has opened the bot before, as a liaison must have for notices to reach it.
        api.add_user(someone.user)
    await prepare_console_database(settings.database.url, people["liaison"].user.id)
    app = build_application(
        settings, request=FakeRequest(api), get_updates_request=FakeRequest(api), clock=clock
    )
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    console = Console(app, api, out, language, persona)
    _ = console._
    try:
        console.write(_("正风 Zhengfeng console: the real bot, no Telegram. :help for help."))
        console.write(
            _("— you are {name}: {title} —").format(
                name=console.current.key, title=_(console.current.title)
            )
        )
        while True:
            out.write(f"{console.current.key}> ")
            out.flush()
            line = await asyncio.to_thread(lines.readline)
            if not line:
                console.write()
                break
            if echo:
                out.write(line if line.endswith("\n") else line + "\n")
            if not await console.handle(line):
                break
            out.flush()
    finally:
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
