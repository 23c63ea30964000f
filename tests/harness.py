"""Drive the real bot as a person would: updates in, Bot API calls out, through the test double."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr
from telegram import Update

from bot.app import BotApplication, build_application
from bot.fakeapi import FakeBotApi, FakeRequest, FakeUser
from bot.runtime.services import BotContext, Services
from bot.runtime.settings import (
    DatabaseSettings,
    DigestSettings,
    FloodSettings,
    RateLimitSettings,
    Settings,
    TelegramSettings,
)
from db.engine import create_engine, session_factory
from db.migrate import upgrade_engine
from db.models import Account
from db.people.departments import import_departments, parse_departments_csv, sample_csv_path
from tests import databases
from tests.conftest import NOW


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def prepare_database(url: str) -> None:
    """Migrate and load the shipped sample departments, as `make run` does."""
    engine = create_engine(url)
    await upgrade_engine(engine)
    async with session_factory(engine)() as session:
        await import_departments(session, parse_departments_csv(sample_csv_path().read_bytes()))
        await session.commit()
    await engine.dispose()


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    # Telegram's pace (30 a second, one a second per chat) would make every flow test wait in
    # real time; the budget's arithmetic is tested on its own (tests/bot/runtime).
    overrides.setdefault(
        "rate_limit", RateLimitSettings(overall_per_second=0, chat_interval_seconds=0)
    )
    # A test plays a person at machine speed; the flood gate is tested on its own.
    overrides.setdefault("flood", FloodSettings(updates=1_000_000))
    # A child process per digest would add seconds to every test that builds one; the child's
    # bundle is compared with this one in tests/scheduler/office/test_digest_job.py.
    overrides.setdefault("digest", DigestSettings(separate_process=False))
    return Settings(
        telegram=TelegramSettings(
            token=SecretStr(FakeBotApi().token),
            api_base_url="http://127.0.0.1:8081/bot",
            file_base_url="http://127.0.0.1:8081/file/bot",
        ),
        database=DatabaseSettings(url=databases.current_url or f"sqlite+aiosqlite:///{tmp}/bot.db"),
        data_dir=tmp / "data",
        **overrides,
    )


@dataclass
class Harness:
    api: FakeBotApi
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    app: BotApplication | None = None

    async def start(self) -> None:
        """Start (or restart) the bot process on the same database and the same Telegram."""
        self.app = build_application(
            self.settings,
            request=FakeRequest(self.api),
            get_updates_request=FakeRequest(self.api),
            clock=self.clock,
        )
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        await self.app.start()

    async def stop(self) -> None:
        assert self.app is not None
        await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown is not None:
            await self.app.post_shutdown(self.app)
        self.app = None

    async def crash(self) -> None:
        """End the process without any graceful shutdown: nothing gets a chance to flush."""
        assert self.app is not None
        assert self.app.job_queue is not None
        self.app.job_queue.scheduler.shutdown(wait=False)
        services = self.app.bot_data["services"]
        if services.sender is not None:
            # Cancelled mid-send like a killed process, but its connection goes back to the pool
            # so the test leaves no open database handle behind.
            await services.sender.stop()
        await services.engine.dispose()
        shared = getattr(self.app.update_processor, "shared", None)
        if shared is not None:  # its connections die with the process, and so do its locks
            await shared.close()
        # A killed process writes nothing more. Its python-telegram-bot persistence loop lives on
        # in this test process, though, and would write its states every interval into a
        # database that later runs have dropped: without a persistence it ends at its next turn.
        self.app.persistence = None
        self.app = None

    @property
    def context(self) -> BotContext:
        assert self.app is not None
        return BotContext(self.app)

    async def feed(self, update: dict[str, Any], user: FakeUser) -> list[dict[str, Any]]:
        """Process one update; return the messages it made the bot send or edit, oldest first."""
        assert self.app is not None
        before = {m["message_id"]: m for m in self.api.sent_messages(user.id)}
        # Through the update processor, as the running bot does: it marks the chat a person
        # waits in, and serialises each person's updates.
        incoming = Update.de_json(update, self.app.bot)
        await self.app.update_processor.process_update(incoming, self.app.process_update(incoming))
        return [m for m in self.api.sent_messages(user.id) if before.get(m["message_id"]) != m]

    async def say(self, user: FakeUser, text: str) -> list[dict[str, Any]]:
        return await self.feed(self.api.message_update(user, text), user)

    async def press(self, user: FakeUser, label: str) -> list[dict[str, Any]]:
        """Press the button with this label on the newest message that has it."""
        for message in reversed(self.api.sent_messages(user.id)):
            for row in self.api.buttons(message):
                for text, data in row:
                    if text == label and data is not None:
                        return await self.feed(self.api.callback_update(user, message, data), user)
        raise AssertionError(f"no button {label!r} in the chat with {user.id}")

    async def press_data(
        self, user: FakeUser, data: str, message: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Send any callback data, as a forged or stale button from another client would."""
        target = message or self.api.last_message(user.id)
        return await self.feed(
            self.api.callback_update(user, target, data, check_button=False), user
        )

    def last_answer(self) -> dict[str, Any]:
        """The parameters of the newest answerCallbackQuery call."""
        calls = [c for c in self.api.calls if c.method == "answerCallbackQuery"]
        assert calls, "no callback query was answered"
        return calls[-1].params


def html_sent(api: FakeBotApi, chat_id: int) -> str:
    """The raw HTML the bot sent (or edited in) to a chat, as it went over the wire."""
    return "\n".join(
        str(c.params.get("text", ""))
        for c in api.calls
        if c.method in ("sendMessage", "editMessageText") and c.params.get("chat_id") == chat_id
    )


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def labels(api: FakeBotApi, message: dict[str, Any]) -> list[str]:
    return [text for row in api.buttons(message) for text, _data in row]


async def two_processes(tmp_path: Path, **overrides: Any) -> tuple[Harness, Harness]:
    """Two bot processes started on one (PostgreSQL) database, one Telegram and one clock."""
    settings = make_settings(tmp_path, **overrides)
    await prepare_database(settings.database.url)
    api, clock = FakeBotApi(), Clock()
    first, second = Harness(api, settings, clock), Harness(api, settings, clock)
    await first.start()
    await second.start()
    return first, second


W = TypeVar("W")


def after_a_write(
    services: Services, work: Callable[..., Awaitable[W]], writes: list[str]
) -> Callable[..., Awaitable[W]]:
    """`work`, once another session has written a row and committed within 3 s (noted in
    `writes`): called by a job that keeps a write transaction open, on SQLite it times out,
    since that transaction holds the one write lock everybody's writes wait for."""

    async def run(*args: Any, **kwargs: Any) -> W:
        async with services.sessions() as session, asyncio.timeout(3):
            session.add(Account(telegram_id=880_000 + len(writes)))
            await session.commit()
        writes.append("after the write")
        return await work(*args, **kwargs)

    return run
