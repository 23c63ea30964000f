"""The retention purge (`db.office.retention`) as a loop shared by the weekly job and `zhengfeng
purge`.

One report per transaction: a purge of thousands of old reports never holds SQLite's write lock
for long, and a crash half-way keeps every report purged so far.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.runtime.services import BotContext
from bot.runtime.settings import Settings
from db.engine import SessionFactory, off_the_loop
from db.office.retention import PurgeCandidate, Purged, purge_candidates, purge_report

log = logging.getLogger(__name__)


async def due_for_purge(
    sessions: SessionFactory, settings: Settings, now: datetime
) -> list[PurgeCandidate]:
    async with sessions() as session:
        return await purge_candidates(session, now, settings.retention.days)


async def purge(
    sessions: SessionFactory,
    settings: Settings,
    now: datetime,
    candidates: list[PurgeCandidate],
    on_each: Callable[[PurgeCandidate], None] | None = None,
) -> list[Purged]:
    """Purge the candidates, each in its own transaction; `on_each` drives a progress bar."""
    done: list[Purged] = []
    for candidate in candidates:
        async with sessions() as session:
            purged = await purge_report(
                session, candidate.report_id, now=now, attachments_root=settings.attachments_dir
            )
            await session.commit()
        if purged is not None:
            done.append(purged)
        if on_each is not None:
            on_each(candidate)
    return done


async def run_retention_job(context: BotContext) -> list[Purged]:
    services = context.services
    now = services.clock()
    with off_the_loop():  # a sweep over every closed report: not on the event loop
        candidates = await due_for_purge(services.sessions, services.settings, now)
        done = await purge(services.sessions, services.settings, now, candidates)
    if done:
        log.info("retention: purged %d closed reports", len(done))
    return done
