"""The SQLite WAL's checkpoint as a job: copied into the database file off the event loop, since
the bot's connections never checkpoint inside a commit (see `db.engine.checkpoint_wal`)."""

from __future__ import annotations

import logging

from bot.runtime.services import BotContext
from db.engine import checkpoint_wal

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 30
"""Often enough that the WAL stays a few megabytes between two checkpoints on a busy day."""


async def run_wal_checkpoint(context: BotContext) -> None:
    frames = await checkpoint_wal(context.services.engine)
    if frames is not None and frames[0] > frames[1]:
        # A reader still needs the older frames (a digest being counted): the next one finishes.
        log.debug("WAL checkpoint: %d of %d frames copied", frames[1], frames[0])
