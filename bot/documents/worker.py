"""Documents built in a process of their own, so the bot's interpreter stays with the people.

A worker thread shares the interpreter lock with the event loop: matplotlib draws a chart and
openpyxl writes a workbook holding that lock for tens of milliseconds at a time, and the
objects they make wake the garbage collector, which holds it longer still. Measured with
bench/scale.py on a city's database, the monthly digest built on threads held the bot's loop
for 50-200 ms a few dozen times. In a child process the bot only awaits the result.

The child is started for each document (spawned: a fresh interpreter, no copy of the bot's
state or connections) and opens the database itself, so it costs a second or two of start-up,
which a monthly digest can afford.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

R = TypeVar("R")


async def in_a_process(build: Callable[..., R], *args: Any) -> R:
    """`build(*args)` in a spawned child process; its arguments and result must pickle."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, build, *args)
    finally:
        # Not waiting: a cancelled job (a shutdown) must not hang on a child still at work;
        # the child ends by itself when its document is done.
        pool.shutdown(wait=False, cancel_futures=True)
