"""How long anybody else waited for the event loop while a block of a test ran."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator


@contextlib.asynccontextmanager
async def loop_gaps(tick: float) -> AsyncIterator[list[float]]:
    """The gaps between a ticker's turns on the loop (it sleeps `tick` between them) while the
    block runs: a gap far above `tick` is a stretch the loop was held.

    What the test session has piled up so far is frozen first, as the bot freezes its start-up
    heap (`bot.app.poll`): otherwise a full collection over hundreds of earlier tests' objects
    would be measured as the block's."""
    gc.collect()
    gc.freeze()
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(tick)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    try:
        yield gaps
    finally:
        done.set()
        await ticking
        gc.unfreeze()
