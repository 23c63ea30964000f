"""One send budget for the whole bot: every Bot API call that puts a message in a chat asks it.

Telegram counts what arrives from the bot, not who inside the bot sent it. Two pacers that do
not know each other (the outbox at 29/s and python-telegram-bot's AIORateLimiter at 30/s for the
replies) add up to more than Telegram takes, and AIORateLimiter answers a 429 by pausing every
request of the bot, then lets them all go at once into the next 429. So this one limiter, plugged
in as python-telegram-bot's `BaseRateLimiter` (its public interface for exactly this), replaces
AIORateLimiter and serves the outbox as well:

* **Overall**: at most `overall_per_second` (Telegram's 30) in any second *as Telegram counts
  them*. Telegram counts a message when the request arrives, somewhere between the moment the
  bot books it and the moment the answer is back; so the window counts a message from its
  booking until one second after its answer. However late a request leaves or an answer
  returns (a stalled loop, a slow connection), no second of Telegram's then holds more than the
  rate: no margin under 30 is needed, and none is wasted.
* **Bulk spread evenly, replies may burst**: bulk goes at most one per 1/rate seconds and leaves
  `bulk_reserve` messages of every second's window to replies, so a person who writes while the
  outbox drains a backlog finds a free slot at once, not behind a queue of slots already spent.
* **Per private chat**: a bucket of `chat_burst` messages refilled one per `chat_interval`
  seconds (Telegram takes about one a second with a small burst). Bulk leaves the last message
  of the bucket to a reply, so a person who just got three reminders is still answered at once.
* **Per group**: `group_per_minute` in any minute. **Per WeCom robot**: `robot_per_minute`.
* **Replies first**: a call is a *reply* when it goes to the chat whose update this task is
  handling (the update processor marks that chat with `serving`); everything else (outbox,
  broadcasts, digests, notices to other people) is *bulk*. A waiting reply takes the next slot;
  bulk takes only slots no reply is waiting for.
* **429**: pauses only the chat it concerns for Telegram's `retry_after`; a second chat refused
  within a second means the bot as a whole is over the limit, and everything pauses. Each is
  counted and logged. The call is not retried here: a reply's call is retried by
  `bot.runtime.reply_calls`, an outbox row by the sender, each after the pause.

Calls that put nothing in a chat (getUpdates, answerCallbackQuery, getMe, deleteMessage …) pass
straight through: Telegram does not count them as messages.
"""

from __future__ import annotations

import asyncio
import contextvars
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

COUNTED = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendVideoNote",
        "sendSticker",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPoll",
        "sendDice",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
    }
)
"""The methods that put or change a message in a chat: what Telegram's limits count."""

GLOBAL_WINDOW = 1.0
"""Two chats refused within this many seconds: the bot as a whole is over the limit."""
_PRUNE_AT = 50_000


class Priority(enum.Enum):
    reply = "reply"
    bulk = "bulk"


_serving: contextvars.ContextVar[int | None] = contextvars.ContextVar("serving", default=None)


def serving(chat_id: int | None) -> contextvars.Token[int | None]:
    """Mark the chat whose update the current task handles: calls to it are replies.

    A context variable rather than an argument: it reaches every call made while the update is
    handled (and tasks started from it, such as a handler's `send_now`) without threading a
    flag through every handler and python-telegram-bot's call signatures."""
    return _serving.set(chat_id)


def priority_for(chat_id: int | None) -> Priority:
    waiting = _serving.get()
    return Priority.reply if chat_id is not None and chat_id == waiting else Priority.bulk


@dataclass(frozen=True)
class ChatPace:
    """A private chat's share of Telegram's per-chat limit, as one process saw it."""

    tokens: float
    """Messages the chat could take at once at `wall`."""
    wall: float
    """When (time.time())."""
    paused_until: float = 0.0
    """Telegram paused the chat until then (time.time()), or 0."""


@dataclass
class BudgetStats:
    replies: int = 0
    bulk: int = 0
    refused: int = 0
    """429 answers: each is a call that went over a limit this budget should have kept."""
    chat_pauses: int = 0
    global_pauses: int = 0


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class SendBudget:
    """The arithmetic, on an injected clock: how long a call must wait, and booking it."""

    overall_per_second: float = 30.0
    bulk_reserve: int = 1
    """Messages of each second's window that bulk leaves to replies."""
    chat_interval: float = 1.0
    """Seconds per message to one private chat once its burst is spent; 0 switches it off."""
    chat_burst: int = 3
    group_per_minute: int = 20
    robot_per_minute: int = 20
    clock: Callable[[], float] = time.monotonic
    stats: BudgetStats = field(default_factory=BudgetStats)
    _next_bulk: float = float("-inf")
    _in_flight: int = 0
    """Messages booked whose answer has not come back: Telegram may count them at any moment."""
    _answered: deque[float] = field(default_factory=deque)
    """When the answers of the last second's messages came back, oldest first."""
    _chats: dict[int, _Bucket] = field(default_factory=dict)
    _windows: dict[object, deque[float]] = field(default_factory=dict)
    _paused: dict[object, float] = field(default_factory=dict)
    _paused_all: float = float("-inf")
    _last_refusal: tuple[float, object] | None = None
    replies_waiting: int = 0
    """Replies whose chat is free, waiting only for an overall slot: bulk gives way to them."""

    # --- how long to wait ------------------------------------------------------------------

    def wait(self, chat: int | None, priority: Priority) -> float:
        """Seconds until this call may go (0: now)."""
        return max(self.chat_wait(chat, priority), self.overall_wait(priority))

    def overall_wait(self, priority: Priority) -> float:
        if self.overall_per_second <= 0:
            return 0.0
        now = self.clock()
        wait = max(0.0, self._paused_all - now)
        answered = self._answered
        while answered and answered[0] <= now - 1.0:
            answered.popleft()
        cap = max(1, int(self.overall_per_second))
        if priority is Priority.bulk:
            cap = max(1, cap - self.bulk_reserve)
            wait = max(wait, self._next_bulk - now)
        over = self._in_flight + len(answered) - cap + 1
        if over > 0:
            # The window empties as answers age; a message still in flight ages from its answer
            # on, so until enough answers are back look again shortly.
            wait = max(wait, answered[over - 1] + 1.0 - now if over <= len(answered) else 0.005)
        if wait <= 0 and priority is Priority.bulk and self.replies_waiting:
            # A reply is waiting for this slot: bulk looks again one slot later.
            return 1.0 / self.overall_per_second
        return wait

    def chat_wait(self, chat: int | str | None, priority: Priority) -> float:
        """How long until this chat (a private chat, a group, or a robot key) takes another."""
        if chat is None:
            return 0.0
        now = self.clock()
        wait = max(0.0, self._paused.get(chat, float("-inf")) - now)
        if isinstance(chat, int) and chat > 0:
            if self.chat_interval <= 0:
                return wait
            # Bulk keeps the bucket's last message for a reply.
            need = 1.0 if priority is Priority.reply or self.chat_burst < 2 else 2.0
            tokens = self._tokens(chat, now)
            return max(wait, (need - tokens) * self.chat_interval)
        window = self._windows.get(chat)
        if not window:
            return wait
        while window and window[0] <= now - 60.0:
            window.popleft()
        per_minute = self.group_per_minute if isinstance(chat, int) else self.robot_per_minute
        if len(window) < per_minute:
            return wait
        return max(wait, window[0] + 60.0 - now)

    def _tokens(self, chat: int, now: float) -> float:
        bucket = self._chats.get(chat)
        if bucket is None:
            return float(self.chat_burst)
        return min(float(self.chat_burst), bucket.tokens + (now - bucket.at) / self.chat_interval)

    # --- booking ---------------------------------------------------------------------------

    def take(self, chat: int | None, priority: Priority, count: int = 1) -> None:
        """Book a call that goes now (`count` messages: an album is several)."""
        now = self.clock()
        if self.overall_per_second > 0:
            self._in_flight += count
            if priority is Priority.bulk:
                interval = 1.0 / self.overall_per_second
                # Carry a small lateness over instead of adding it: waking a few ms after the
                # slot must not make the pace drift below its rate.
                self._next_bulk = max(self._next_bulk, now - interval) + interval * count
        if priority is Priority.reply:
            self.stats.replies += count
        else:
            self.stats.bulk += count
        if chat is None:
            return
        if isinstance(chat, int) and chat > 0:
            if self.chat_interval > 0:
                tokens = self._tokens(chat, now) - count
                self._chats[chat] = _Bucket(tokens, now)
                if len(self._chats) > _PRUNE_AT:
                    self._prune(now)
            return
        self._windows.setdefault(chat, deque()).extend([now] * count)

    def answered(self, chat: int | None, count: int = 1) -> None:
        """The answer of a booked call came back (or it failed): from now on its message ages.

        A private chat's bucket, too, refills from the answer on, not from the booking: Telegram
        refilled it from the moment the request arrived, which is no later than that."""
        now = self.clock()
        if self.overall_per_second > 0:
            self._in_flight = max(0, self._in_flight - count)
            self._answered.extend([now] * count)
        if isinstance(chat, int) and chat > 0:
            bucket = self._chats.get(chat)
            if bucket is not None and bucket.at < now:
                self._chats[chat] = _Bucket(bucket.tokens, now)

    # --- one chat's pace, shared between processes -----------------------------------------

    def chat_pace(self, chat: int) -> ChatPace:
        """A private chat's bucket and pause as of now, in wall-clock terms another process can
        read (each process's monotonic clock starts elsewhere)."""
        now, wall = self.clock(), time.time()
        paused = self._paused.get(chat, float("-inf")) - now
        return ChatPace(self._tokens(chat, now), wall, wall + paused if paused > 0 else 0.0)

    def merge_chat_pace(self, chat: int, pace: ChatPace) -> None:
        """What another process spent of this chat's bucket (or a pause Telegram gave it) counts
        here too: the lower of the two buckets, the later of the two pauses."""
        if self.chat_interval <= 0:
            return
        now, wall = self.clock(), time.time()
        refilled = max(0.0, wall - pace.wall) / self.chat_interval
        theirs = min(float(self.chat_burst), pace.tokens + refilled)
        if theirs < self._tokens(chat, now):
            self._chats[chat] = _Bucket(theirs, now)
        if pace.paused_until > wall:
            until = now + pace.paused_until - wall
            self._paused[chat] = max(self._paused.get(chat, float("-inf")), until)

    def take_robot(self, robot: str) -> None:
        """A WeCom robot's message: its own window only (Telegram does not see it)."""
        self._windows.setdefault(robot, deque()).append(self.clock())

    def _prune(self, now: float) -> None:
        """Forget chats whose bucket is full again: they are as good as never seen."""
        full = self.chat_burst * self.chat_interval
        self._chats = {c: b for c, b in self._chats.items() if now - b.at < full}

    # --- refusals --------------------------------------------------------------------------

    def refused(self, chat: object, retry_after: float) -> None:
        """Telegram answered 429: pause what it concerns."""
        now = self.clock()
        self.stats.refused += 1
        last = self._last_refusal
        self._last_refusal = (now, chat)
        widespread = chat is None or (
            last is not None and last[1] != chat and now - last[0] <= GLOBAL_WINDOW
        )
        if widespread:
            self._paused_all = max(self._paused_all, now + retry_after)
            self.stats.global_pauses += 1
            log.warning("Telegram refused the bot as a whole: every send waits %.1f s", retry_after)
        else:
            self._paused[chat] = max(self._paused.get(chat, float("-inf")), now + retry_after)
            self.stats.chat_pauses += 1
            log.warning("Telegram refused a chat: its messages wait %.1f s", retry_after)
        if len(self._paused) > _PRUNE_AT:
            self._paused = {c: t for c, t in self._paused.items() if t > now}


class SendLimiter(BaseRateLimiter[int]):
    """`SendBudget` as python-telegram-bot's rate limiter, with the waiting done here."""

    def __init__(
        self,
        budget: SendBudget,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.budget = budget
        self._sleep = sleep

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def acquire(self, chat: int | None, priority: Priority, count: int = 1) -> None:
        """Wait until the call may go, then book it (no await between the check and the
        booking, so two calls never take one slot)."""
        budget = self.budget
        waiting = False
        try:
            while True:
                chat_wait = budget.chat_wait(chat, priority)
                overall_wait = budget.overall_wait(priority)
                if chat_wait <= 0 and overall_wait <= 0:
                    budget.take(chat, priority, count)
                    return
                if priority is Priority.reply and chat_wait <= 0 and not waiting:
                    waiting = True
                    budget.replies_waiting += 1
                await self._sleep(max(chat_wait, overall_wait, 0.001))
        finally:
            if waiting:
                budget.replies_waiting -= 1

    async def acquire_robot(self, robot: str) -> None:
        """A WeCom robot's turn: its 20 a minute, and nothing of Telegram's budget."""
        while (wait := self.budget.chat_wait(robot, Priority.bulk)) > 0:
            await self._sleep(wait)
        self.budget.take_robot(robot)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint not in COUNTED:
            return await callback(*args, **kwargs)
        chat = _chat_of(data)
        media = data.get("media")
        count = len(media) if endpoint == "sendMediaGroup" and isinstance(media, list) else 1
        await self.acquire(chat, priority_for(chat), count)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as error:
            self.budget.refused(chat, retry_seconds(error))
            raise
        finally:
            self.budget.answered(chat, count)


def retry_seconds(error: RetryAfter) -> float:
    """`retry_after` is an int or a timedelta, depending on python-telegram-bot's settings."""
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


def _chat_of(data: dict[str, Any]) -> int | None:
    """The numeric chat id of a call; a channel's @username counts as a group."""
    chat = data.get("chat_id")
    if chat is None:
        return None
    try:
        return int(chat)
    except (TypeError, ValueError):
        return -abs(hash(chat)) or -1
