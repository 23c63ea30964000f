"""Drains the outbox: every row delivered once, within Telegram's and WeCom's limits.

The rules of the outbox are in `db.delivery.outbox` (claim, commit, send, mark; after a crash an
unconfirmed attempt is sent again once). The pace is the bot's one send budget
(`bot.runtime.send_budget`), shared with the replies to people, which go first. Here: quiet hours,
and what each kind of failure means:

* 429 (`RetryAfter`): the row goes back with Telegram's wait; the budget pauses that chat (or,
  when Telegram refuses the bot as a whole, everything) for it;
* 5xx, timeouts, network errors: back in the queue with a growing delay; given up after
  `max_attempts`. When the failed attempt may have arrived (its answer was lost, or its files
  went out before its text failed) the retry is counted in `in_doubt` and logged;
* 403 (`Forbidden`, the person blocked the bot): the account is marked unreachable, what still
  waits for that chat is dropped, and, when the person holds a role, the admins are told once;
* 400 (`BadRequest`): Telegram will never accept this message; given up at once.

A handler's own notices are sent right after its commit by `send_now` (the person is waiting);
the loop picks up everything else: scans' reminders, rows that failed, rows left by a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import col, select
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.runtime.i18n import gettext_for
from bot.runtime.render import role_label
from bot.runtime.send_budget import Priority, SendLimiter, priority_for, retry_seconds
from bot.runtime.settings import Settings
from bot.runtime.telegram_errors import may_have_arrived
from bot.runtime.turn import NO_PREVIEW, markup
from db.calendar.workdays import WorkCalendar, load_calendar
from db.delivery.outbox import (
    claim,
    due_messages,
    enqueue,
    fail_pending_for_chat,
    files_of,
    keyboard_of,
    mark_failed,
    mark_sent,
    pending_by_keys,
    release,
    skip_expired,
)
from db.delivery.wecom import mask_url
from db.engine import SessionFactory
from db.loop_slices import yield_if_held
from db.models import Account, Channel, Department, OutboxMessage, RoleGrant
from db.office.processes import recover_orphans
from db.people.accounts import mark_unreachable
from db.people.roles import admin_recipients

log = logging.getLogger(__name__)

BACKOFF_BASE = 5.0
BACKOFF_MAX = 3600.0
WECOM_RATE_LIMITED = 45009
STOP_TIMEOUT = 10.0
DRAIN_ROWS = 50
"""Rows one drain takes on (it drains again at once while it sends anything): loading them
holds the event loop, about 0.2 ms a row, and 29 a second need no more."""
LONG_PAUSE = 2.0
"""A chat paused longer than this (a 429's retry_after) is passed over until the next drain."""


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … at most an hour: a brief Telegram outage costs seconds, a long one
    does not turn into a retry storm."""
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)))


def is_quiet(now: datetime, settings: Settings, calendar: WorkCalendar) -> bool:
    """Outside the send window (default 08:30–18:00 on working days) non-urgent rows wait."""
    local = now.astimezone(settings.tz)
    window = settings.delivery
    if not calendar.is_working_day(local.date()):
        return True
    return not (window.window_start <= local.time() < window.window_end)


_BOLD = re.compile(r"</?b>")
_CODE = re.compile(r"</?code>")
_TAG = re.compile(r"<[^>]+>")


WECOM_LIMIT_BYTES = 4096
"""A WeCom robot refuses markdown longer than this; a Chinese character takes 3 bytes, so a
message that fits Telegram's 4,096 characters may not fit here."""
_ELLIPSIS = "…"


def wecom_markdown(text: str) -> str:
    """Telegram HTML → WeCom markdown: bold and code survive, other tags go, entities decode.
    Cut on a character boundary, ending in "…", when it is longer than a robot takes."""
    text = _BOLD.sub("**", text)
    text = _CODE.sub("`", text)
    markdown = html.unescape(_TAG.sub("", text))
    encoded = markdown.encode()
    if len(encoded) <= WECOM_LIMIT_BYTES:
        return markdown
    room = WECOM_LIMIT_BYTES - len(_ELLIPSIS.encode())
    return encoded[:room].decode(errors="ignore") + _ELLIPSIS


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    """Reminders dropped because their deadline passed before they could go out."""


class OutboxSender:
    """One per bot process; `start` recovers a crash's attempts, then the loop runs."""

    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        settings: Settings,
        clock: Callable[[], datetime],
        *,
        limiter: SendLimiter,
        process_id: str,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.bot, self.sessions, self.settings, self.clock = bot, sessions, settings, clock
        self.process_id = process_id
        """The bot process whose attempts this sender's claims are (`db.office.processes`)."""
        self.limiter = limiter
        self.http = http
        self.wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[str]] = set()
        self._recipient_locks: dict[int | str, asyncio.Lock] = {}
        self._concurrency = asyncio.Semaphore(settings.delivery.concurrency)
        self.recovered = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def recover(self) -> int:
        """The attempts of processes that are gone (a crash of this bot before its restart, or
        of another process on the database) go back in the queue."""
        async with self.sessions() as session:
            self.recovered = await recover_orphans(session, self.clock())
            await session.commit()
        if self.recovered:
            log.warning(
                "%d outbox messages were being sent when a bot process stopped; each is sent "
                "again (its recipient may get it twice)",
                self.recovered,
            )
        return self.recovered

    async def start(self) -> None:
        await self.recover()
        self._task = asyncio.create_task(self._run(), name="outbox-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a shutdown must never hang on the sender.
            await asyncio.wait([self._task], timeout=STOP_TIMEOUT)
            self._task = None
        if self.http is not None:
            await self.http.aclose()
            self.http = None

    async def _run(self) -> None:
        poll = self.settings.delivery.poll_seconds
        while True:
            try:
                result = await self.drain_once()
            except Exception:
                log.exception("outbox drain failed; trying again")
                result = DrainResult()
            if result.sent or result.retried:
                continue
            # asyncio.timeout, not wait_for: 3.11's wait_for wraps the wait in a task of its own
            # and can lose a cancellation that arrives as the timeout fires (the bot would then
            # hang at shutdown).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self.wake.wait()
            self.wake.clear()

    # --- draining --------------------------------------------------------------------------

    async def drain_once(
        self, keys: Sequence[str] | None = None, *, settle: bool = True
    ) -> DrainResult:
        """Deliver what is due now (or the pending rows among `keys`), within the limits; with
        `settle`, also wait for the sends another drain has in the air."""
        now = self.clock()
        async with self.sessions() as session:
            calendar = await load_calendar(session)
            quiet = is_quiet(now, self.settings, calendar)
            expired = await skip_expired(session, now)
            if expired:
                await session.commit()
                log.info(
                    "%d reminders not sent: their deadline passed before they could go out "
                    "(quiet hours, a pause or retries): %s",
                    len(expired),
                    ", ".join(expired[:20]),
                )
            if keys is None:
                rows = await due_messages(session, now, quiet=quiet, limit=DRAIN_ROWS)
            else:
                rows = [r for r in await pending_by_keys(session, keys) if r.urgent or not quiet]
        if not self._tasks:
            self._recipient_locks.clear()  # nobody holds or waits for one: start afresh
        tasks = [asyncio.create_task(self._in_turn(row)) for row in rows]
        for task in tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        outcomes = await asyncio.gather(*tasks)
        # Also wait for sends another drain started (the loop and a handler's `send_now` run
        # side by side): when this returns, nothing this process took on is still in the air.
        # Not for a handler: the background drain's bulk waits for what replies leave of the
        # budget, and a person would wait for fifty strangers' messages to hear their own.
        others = self._tasks.difference(tasks) if settle else set()
        if others:
            await asyncio.wait(others)
        return DrainResult(
            sent=outcomes.count("sent"),
            retried=outcomes.count("retry"),
            failed=outcomes.count("failed"),
            skipped=len(expired),
        )

    async def _in_turn(self, row: OutboxMessage) -> str:
        """One message at a time per chat, in order and at its pace; a bounded number in all.

        The wait for the chat's share of the budget comes before a place among those in flight,
        so a busy or paused chat never holds a place another chat's message could use."""
        recipient = _recipient(row)
        lock = self._recipient_locks.setdefault(recipient, asyncio.Lock())
        budget = self.limiter.budget
        priority = priority_for(recipient) if isinstance(recipient, int) else Priority.bulk
        async with lock:
            # A drain starts a task per row at once: without this their sends all ran in one
            # turn of the loop (50 ms and more on a slow machine). Inside the chat's lock, so a
            # chat's messages keep their order.
            await yield_if_held()
            while (wait := budget.chat_wait(recipient, priority)) > 0:
                if wait > LONG_PAUSE:
                    # Telegram paused this chat: its rows wait in the queue, not in this drain,
                    # which would otherwise hold up every other chat's next messages.
                    return "later"
                await asyncio.sleep(wait)
            if priority is Priority.reply:
                # The person being served waits for it: no queue behind the bulk, whose places
                # are held while it waits for what the replies leave of the budget.
                return await self.deliver(row)
            async with self._concurrency:
                return await self.deliver(row)

    async def send_now(self, keys: Sequence[str]) -> DrainResult:
        """A handler's notices, right after its commit; whatever cannot go now stays queued."""
        if not keys:
            return DrainResult()
        try:
            return await self.drain_once(keys, settle=False)
        finally:
            self.wake.set()

    async def deliver(self, row: OutboxMessage) -> str:
        """Claim, send, mark; returns sent, retry, failed or skipped (claimed elsewhere)."""
        assert row.id is not None
        async with self.sessions() as session:
            claimed = await claim(session, row.id, self.clock(), self.process_id)
            await session.commit()
        if not claimed:
            return "skipped"
        attempts = row.attempts + 1
        done: list[str] = []
        try:
            if row.channel is Channel.wecom:
                await self._send_wecom(row)
            else:
                await self._send_telegram(row, done)
        except RetryAfter as error:
            # The budget has paused the chat (or everything) already; the row waits as long.
            seconds = retry_seconds(error)
            return await self._retry(row, timedelta(seconds=seconds), f"429: {error}")
        except _WecomLimited as error:
            return await self._retry(row, timedelta(seconds=60), str(error))
        except Forbidden as error:
            await self._blocked(row, str(error))
            return "failed"
        except BadRequest as error:
            await self._fail(row, f"400: {error}")
            log.warning("outbox %s refused by Telegram: %s", row.dedupe_key, error)
            return "failed"
        except (NetworkError, TelegramError, httpx.HTTPError, _WecomError) as error:
            if attempts >= self.settings.delivery.max_attempts:
                await self._fail(row, f"gave up after {attempts} attempts: {error}")
                log.error("outbox %s: giving up after %d attempts", row.dedupe_key, attempts)
                return "failed"
            doubtful = may_have_arrived(error) or bool(done)
            if doubtful:
                log.warning(
                    "outbox %s: %s; sending it again may deliver a second copy (in doubt)",
                    row.dedupe_key,
                    "part of it went out" if done else "its answer was lost",
                )
            return await self._retry(
                row, backoff(attempts), f"{type(error).__name__}: {error}", in_doubt=doubtful
            )
        async with self.sessions() as session:
            await mark_sent(session, row.id, self.clock())
            await session.commit()
        return "sent"

    async def _retry(
        self, row: OutboxMessage, delay: timedelta, error: str, *, in_doubt: bool = False
    ) -> str:
        assert row.id is not None
        async with self.sessions() as session:
            await release(session, row.id, self.clock() + delay, error, in_doubt=in_doubt)
            await session.commit()
        return "retry"

    async def _fail(self, row: OutboxMessage, error: str) -> None:
        assert row.id is not None
        async with self.sessions() as session:
            await mark_failed(session, row.id, self.clock(), error)
            await session.commit()

    # --- the two channels ------------------------------------------------------------------

    async def _send_telegram(self, row: OutboxMessage, done: list[str]) -> None:
        """Files first, then the text; `done` collects the calls Telegram confirmed, so a
        failure half-way is known to have delivered part of the message."""
        assert row.chat_id is not None
        for file in files_of(row):
            content: Any = file.file_id
            if file.path is not None:
                # A city's digest workbook is megabytes: read off the event loop.
                content = await asyncio.to_thread((self.settings.data_dir / file.path).read_bytes)
            if file.kind == "photo":
                await self.bot.send_photo(row.chat_id, content)
            else:
                await self.bot.send_document(row.chat_id, content, filename=file.name)
            done.append(file.kind)
        await self.bot.send_message(
            row.chat_id,
            row.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup(keyboard_of(row)),
            link_preview_options=NO_PREVIEW,
        )

    async def _send_wecom(self, row: OutboxMessage) -> None:
        async with self.sessions() as session:
            department = (
                await session.get(Department, row.department_id) if row.department_id else None
            )
        if row.department_id is None:
            office = self.settings.wecom.office_url
            url = office.get_secret_value() if office is not None else None
        else:
            url = department.wecom_url if department is not None else None
        if url is None:
            raise BadRequest("no WeCom robot configured")
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10.0)
        await self.limiter.acquire_robot(_robot(row))
        response = await self.http.post(
            url, json={"msgtype": "markdown", "markdown": {"content": wecom_markdown(row.text)}}
        )
        response.raise_for_status()
        body = response.json()
        code = int(body.get("errcode", 0))
        if code == WECOM_RATE_LIMITED:
            raise _WecomLimited(f"WeCom robot {mask_url(url)} is over its 20 messages a minute")
        if code != 0:
            # The URL holds the robot's key: report the code, never the URL.
            raise _WecomError(f"WeCom errcode {code} for robot {mask_url(url)}")

    # --- a recipient who blocked the bot ---------------------------------------------------

    async def _blocked(self, row: OutboxMessage, error: str) -> None:
        assert row.id is not None and row.chat_id is not None
        now = self.clock()
        async with self.sessions() as session:
            await mark_failed(session, row.id, now, f"403: {error}")
            dropped = await fail_pending_for_chat(session, row.chat_id, now, "403: blocked")
            newly = await mark_unreachable(session, row.chat_id)
            if newly:
                await self._tell_admins_of_blocked(session, row.chat_id, now)
            await session.commit()
        log.info("recipient blocked the bot; %d waiting messages dropped", dropped)

    async def _tell_admins_of_blocked(self, session: Any, chat_id: int, now: datetime) -> None:
        """Only officials are named: a citizen's Telegram id is never shown to anyone."""
        grants = (
            await session.exec(
                select(RoleGrant, Department)
                .join(Account, col(Account.id) == col(RoleGrant.account_id))
                .join(Department, col(Department.id) == col(RoleGrant.department_id), isouter=True)
                .where(col(Account.telegram_id) == chat_id, col(RoleGrant.revoked_at).is_(None))
            )
        ).all()
        if not grants:
            return
        admins = await admin_recipients(
            session, self.settings.admin_ids, self.settings.default_language
        )
        for admin in admins:
            if admin.telegram_id == chat_id:
                continue
            _ = gettext_for(admin.language)
            roles = ", ".join(
                _("{role} of {unit}").format(role=role_label(g.role, _), unit=html.escape(d.name))
                if d is not None
                else role_label(g.role, _)
                for g, d in grants
            )
            text = _(
                "Messages to {roles} (Telegram ID {id}) cannot be delivered: the person blocked "
                "the bot. Please reach them another way or hand the role to someone else."
            ).format(roles=roles, id=chat_id)
            await enqueue(
                session,
                key=f"unreachable:{chat_id}:{now.date().isoformat()}:{admin.telegram_id}",
                chat_id=admin.telegram_id,
                text=text,
                now=now,
            )
        self.wake.set()


class _WecomError(Exception):
    pass


class _WecomLimited(Exception):
    """One robot's limit: only its own messages wait, Telegram's keep going."""


def _robot(row: OutboxMessage) -> str:
    return f"wecom:{row.department_id or 0}"


def _recipient(row: OutboxMessage) -> int | str:
    """Whose share of the budget a row uses: its Telegram chat, or its WeCom robot."""
    if row.channel is Channel.wecom:
        return _robot(row)
    return row.chat_id or 0
