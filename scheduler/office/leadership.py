"""The scheduler's lease as a job: every process tries every few seconds, one leads.

Only the leader runs the jobs wrapped in `leader_only` (the scans, the digest, retention …);
every process answers people and sends from the outbox, within its share of Telegram's budget.
The leader also takes over what gone processes left half sent. See `db.office.processes`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from bot.runtime.services import BotContext, Services
from db.engine import is_sqlite
from db.office.processes import (
    RENEW_EVERY,
    TIME_TO_LIVE,
    hold_lease,
    live_processes,
    recover_orphans,
    register,
    stop,
)

log = logging.getLogger(__name__)

Job = Callable[[BotContext], Coroutine[Any, Any, object]]


async def join(services: Services) -> None:
    """At start-up: register this process and try the lease once, before any job can run."""
    async with services.sessions() as session:
        await register(
            session,
            services.process_id,
            socket.gethostname(),
            os.getpid(),
            services.clock(),
            only_one=is_sqlite(services.settings.database.url),
        )
        await session.commit()
    # The sender's start takes over the orphans right after (and counts them).
    await keep_lease(services, recover=False)


async def keep_lease(services: Services, *, recover: bool = True) -> None:
    now, began = services.clock(), time.monotonic()
    async with services.sessions() as session:
        leading = await hold_lease(session, services.process_id, now)
        orphans = await recover_orphans(session, now) if leading and recover else 0
        processes = await live_processes(session, now)
        await session.commit()
    # Telegram counts the bot's messages, whichever process sends them: each live process
    # takes its share of the budget. A process that just died leaves its share unused until its
    # heartbeat runs out (slower for a few seconds); one that just joined is counted by the
    # others only at their next renewal, so for up to RENEW_EVERY they may send over the
    # limit together, and Telegram's 429 then pauses them (bench/bad_day.py --postgres).
    share = services.settings.rate_limit.overall_per_second / processes
    if share != services.budget.overall_per_second:
        log.warning("%d bot processes share Telegram's budget: %.1f/s here", processes, share)
        services.budget.overall_per_second = share
    # Taken now, or held again after renewals failed long enough that jobs were skipped.
    took = leading and not services.runs_jobs()
    if leading != services.leading:
        log.warning(
            "this process %s the scheduler's jobs", "now runs" if leading else "no longer runs"
        )
    services.leading = leading
    # Another process takes the lease once its clock passes `now + TIME_TO_LIVE`; this one stops
    # starting jobs a renewal's interval before that: room for a late renewal and for the two
    # clocks' skew. A long job (the digest) may still be running when the lease passes; the
    # jobs are idempotent, so such an overlap costs duplicates at worst, never a loss. The same
    # margin on this process's monotonic clock covers the wall clock stepping back.
    services.lease_until = now + TIME_TO_LIVE - RENEW_EVERY if leading else None
    services.lease_held_until = began + (TIME_TO_LIVE - RENEW_EVERY).total_seconds()
    if took and services.took_lease is not None:
        services.took_lease()
    if orphans:
        log.warning("%d outbox messages of a gone process are sent again (maybe twice)", orphans)
        services.wake_sender()


async def run_keep_lease(context: BotContext) -> None:
    await keep_lease(context.services)


async def leave(services: Services) -> None:
    """On the way out: the lease is free for another process at once."""
    async with services.sessions() as session:
        await stop(session, services.process_id, services.clock())
        await session.commit()
    services.leading = False
    services.lease_until = None


def leader_only(job: Job) -> Job:
    """The job runs in the process that holds the lease, and nowhere else."""

    async def run(context: BotContext) -> object:
        return await job(context) if context.services.runs_jobs() else None

    run.__name__ = run.__qualname__ = getattr(job, "__name__", "job")
    run.__doc__ = job.__doc__
    return run
