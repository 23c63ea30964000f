"""Long documents without a frozen bot: the event loop gets a turn while a workbook is written.

openpyxl spends about 0.1 ms of pure Python per row, so a month of a city's reports (tens of
thousands of rows) is seconds of work; done in one go on the event loop, nobody would be
answered meanwhile. The rows are written in turns of a few hundred, and the final zip, which
touches no shared state, is written on a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from io import BytesIO
from typing import Any, TypeVar

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
            await asyncio.sleep(0)


async def saved(workbook: Any) -> bytes:
    """The workbook's file, zipped on a worker thread."""
    buffer = BytesIO()
    await asyncio.to_thread(workbook.save, buffer)
    return buffer.getvalue()
