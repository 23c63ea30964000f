"""Documents built in a process of their own, so the bot's interpreter stays with the people.

A worker thread shares the interpreter lock with the event loop: matplotlib draws a chart and
openpyxl writes a workbook holding that lock for tens of milliseconds at a time, and the
objects they make wake the garbage collector, which holds it longer still. Measured with
bench/scale.py on a city's database, the monthly digest built on threads held the bot's loop
for 50-200 ms a few dozen times. In a child process the bot only awaits the result.

The child is started for each document and opens the database itself, so it costs a second or
two of start-up, which a monthly digest can afford. It is forked from multiprocessing's fork
server, a small process started once, not from the bot: spawning a fresh interpreter from the
bot held its loop ~450 ms (copying a big process's address space), and forking the bot itself
would copy its connections and threads into the child.
"""

from __future__ import annotations

import asyncio
import multiprocessing

# Imported with the bot, not on the first digest: a first import held the loop ~200 ms.
import multiprocessing.queues
import multiprocessing.synchronize
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

if sys.platform != "win32":
    import multiprocessing.forkserver
    import multiprocessing.popen_forkserver

R = TypeVar("R")

START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
"""A fork server where the platform has one (Linux, macOS); a fresh interpreter elsewhere."""


async def in_a_process(build: Callable[..., R], *args: Any) -> R:
    """`build(*args)` in a child process of its own; its arguments and result must pickle."""
    pool = ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context(START_METHOD), initializer=_yield_cpu
    )
    try:
        # Submitting starts the child and waits for the fork server to name it: on a thread,
        # so the loop does not wait with it.
        started = await asyncio.to_thread(pool.submit, build, *args)
        return await asyncio.wrap_future(started)
    finally:
        # Not waiting: a cancelled job (a shutdown) must not hang on a child still at work;
        # the child ends by itself when its document is done.
        pool.shutdown(wait=False, cancel_futures=True)


async def drawn(separate_process: bool, build: Callable[..., R], *args: Any) -> R:
    """`build(*args)` in a process of its own when `separate_process` (the bot: `[digest]
    separate_process`), else on a thread (tests, the command line): drawing with matplotlib,
    Pillow or openpyxl on a thread holds the bot's interpreter tens of milliseconds at a time."""
    if separate_process:
        return await in_a_process(build, *args)
    return await asyncio.to_thread(build, *args)


NICENESS = 10
"""How much the child defers to the bot for the CPU: on a machine of two cores the child, the
bot and the Bot API's other traffic compete, and the bot's answers come first."""


def _yield_cpu() -> None:
    if hasattr(os, "nice"):
        os.nice(NICENESS)


def start_server() -> None:
    """Start the fork server now, at the bot's start-up, before anybody waits for an answer:
    started on the first digest, it was a copy of the whole bot's process made while people
    were being served (~300 ms of the interpreter held)."""
    if START_METHOD == "forkserver":
        multiprocessing.forkserver.ensure_running()
