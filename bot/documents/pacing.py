"""Long documents without a frozen bot: the event loop gets a turn while a workbook is written.

openpyxl spends about 0.1 ms of pure Python per row, so a month of a city's reports (tens of
thousands of rows) is seconds of work; done in one go on the event loop, nobody would be
answered meanwhile. A small export writes its rows in turns of a few hundred (`in_turns`) and
zips on a worker thread (`saved`). The monthly digest's workbook, with a sheet for each of
hundreds of units, is written entirely on a worker thread (`on_a_thread`), which pulls its rows
from the database on the loop a chunk at a time (`pulled`): the thread shares the interpreter
with the loop, which then gets its turn every few milliseconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from io import BytesIO
from typing import Any, TypeVar

from bot.runtime.fairness import let_others_run

T = TypeVar("T")

TURN_ROWS = 200
"""Rows written between two turns of the loop: about 20 ms of openpyxl's work."""


async def in_turns(rows: AsyncIterable[T], every: int = TURN_ROWS) -> AsyncIterator[T]:
    """The same rows, handing the loop a turn after every `every` of them."""
    count = 0
    async for row in rows:
        yield row
        count += 1
        if count % every == 0:
            await let_others_run()


async def saved(workbook: Any) -> bytes:
    """The workbook's file, zipped on a worker thread."""
    buffer = BytesIO()
    await asyncio.to_thread(workbook.save, buffer)
    return buffer.getvalue()


R = TypeVar("R")
COURTESY_ROWS = 20
"""Rows a worker thread writes before it hands the interpreter to the event loop (~2 ms)."""


def courteous(items: Iterable[T], every: int = COURTESY_ROWS) -> Iterator[T]:
    """The same items, for a worker thread's loop: after every `every` of them the thread lets
    the event loop's thread run at once, instead of making it wait for Python's switch interval
    in line with every other thread (measured: 50 ms stalls without, a few ms with)."""
    for count, item in enumerate(items, 1):
        yield item
        if count % every == 0:
            time.sleep(0)


CHUNK = 40
"""Rows fetched per trip from the worker thread to the loop: making a report row costs the loop
about 0.25 ms (its timeliness on the working-day calendar), so a trip holds it ~10 ms."""


def pulled(
    rows: AsyncIterable[T],
    loop: asyncio.AbstractEventLoop,
    context: contextvars.Context,
    chunk: int = CHUNK,
) -> Iterator[T]:
    """`rows` as a plain iterator for a worker thread: each chunk is fetched by a task on the
    loop, in `context` (so `db.engine.off_the_loop` still applies to its statements)."""
    source = aiter(rows)

    async def take() -> list[T]:
        batch: list[T] = []
        try:
            while len(batch) < chunk:
                batch.append(await anext(source))
        except StopAsyncIteration:
            pass
        return batch

    while True:
        done: concurrent.futures.Future[list[T]] = concurrent.futures.Future()

        def finish(
            task: asyncio.Task[list[T]], done: concurrent.futures.Future[list[T]] = done
        ) -> None:
            if task.cancelled():
                done.cancel()
            elif (error := task.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(task.result())

        def start() -> None:
            loop.create_task(take()).add_done_callback(finish)

        loop.call_soon_threadsafe(start, context=context)
        batch = done.result()
        if not batch:
            return
        yield from batch


async def on_a_thread(build: Callable[..., R], *args: Any) -> R:
    """Run `build` on a worker thread; its first argument is a function that turns an async
    iterable of this task into an iterator the thread can read (`pulled`)."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()

    def reader(rows: AsyncIterable[Any]) -> Iterator[Any]:
        return pulled(rows, loop, context)

    return await asyncio.to_thread(build, reader, *args)
