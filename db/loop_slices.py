"""How long the event loop has been working without a break, and the pause that gives it one.

SQLite statements run inline (`db.sqlite_inline`), so an update's handling, a few milliseconds
of statements and ORM work, runs from its first statement to its first network call without
ever giving the loop back. One such task is harmless; but when a batch of updates arrives at
once (`getUpdates` hands over several), asyncio runs every one of them in the same turn of the
loop, and the turn lasts as long as all of them together. Measured with bench/scale.py on a
machine of two slow cores: ten updates of 7 ms each held the loop 60-70 ms, while a timer,
a socket's answer or another person's reply waited.

So before each inline statement the connection asks `yield_if_held`: once the loop has worked
for `SLICE_SECONDS` since it last got a break, the task steps aside, and so does every other task
that asks in the same turn. The first to step aside queues the break (a callback, `call_soon`):
it runs in the next turn, beside the sockets' callbacks and the timers that came due, and wakes
the tasks that stepped aside for the turn after, where they carry on. A turn then lasts about
one slice plus one statement, however many tasks are ready. After an idle spell the first
statement steps aside once for nothing (the last break is long past): one pass of the loop.

Tasks take turns in the order they first stepped aside: a task woken when those ahead of it have
already used the new slice steps aside again without losing its place, and the one that used the
slice goes to the back. Without that, the task that stepped aside first would be woken first
every time and take every slice, and a person's update behind a long job would advance one
statement a turn.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import weakref
from collections.abc import Callable

SLICE_SECONDS = 0.015
"""Work the loop does in one go before tasks step aside: well under issue 13's 50 ms, with room
for the statement that is running when the slice runs out and the loop's own socket work."""

clock: Callable[[], float] = time.monotonic
"""Replaced in tests to give every statement a cost."""


class _Stretch:
    """One loop's current stretch of work and the tasks waiting for its break."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.since = clock()
        self.waiting: list[tuple[int, asyncio.Future[None]]] = []
        """Each waiting task's place in line (the ticket it took when it first stepped aside)."""
        self.tickets = itertools.count()
        self.break_queued = False

    def held(self, slice_seconds: float) -> bool:
        return clock() - self.since > slice_seconds

    async def wait_for_break(self, ticket: int) -> None:
        woken: asyncio.Future[None] = self.loop.create_future()
        self.waiting.append((ticket, woken))
        if not self.break_queued:
            self.break_queued = True
            self.loop.call_soon(self.give_break)
        await woken

    def give_break(self) -> None:
        """The loop has come round: a new stretch starts, and the waiting tasks go on in line."""
        self.since = clock()
        self.break_queued = False
        waiting, self.waiting = self.waiting, []
        for _ticket, woken in sorted(waiting):
            if not woken.done():  # a cancelled task's place is simply gone
                woken.set_result(None)


_stretches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Stretch] = (
    weakref.WeakKeyDictionary()
)


async def yield_if_held(slice_seconds: float = SLICE_SECONDS) -> None:
    """Step aside until the loop's next break when it has worked `slice_seconds` without one."""
    loop = asyncio.get_running_loop()
    stretch = _stretches.get(loop)
    if stretch is None:
        stretch = _stretches[loop] = _Stretch(loop)
    if not stretch.held(slice_seconds):
        return
    ticket = next(stretch.tickets)
    while stretch.held(slice_seconds):
        await stretch.wait_for_break(ticket)
