"""Bot processes sharing one database: who is alive, who runs the jobs, whose attempts are orphans.

Several processes may serve one PostgreSQL database (webhooks behind a load balancer, a standby
machine). Every process answers people and sends from the outbox; exactly one at a time runs the
scheduler's jobs: the holder of the lease. The holder renews it every few seconds; when it dies or
loses the database, the lease runs out and the next process to try takes it, so the jobs move
within one time to live. The jobs are idempotent (the outbox's keys), so a job the old leader had
half run is simply run again.

An outbox attempt records its process. A live process's attempt is left alone however long it
takes; a gone process's unconfirmed attempts go back in the queue, counted in doubt, like a crash's.
A process is gone when it said so on its way out, or when its heartbeat is older than the time to
live. On SQLite only one process can serve the file, so a process starting there declares every
other one gone at once: a restart after a crash recovers at once, as before there were leases.

The processes' clocks are compared with each other (heartbeats, lease expiry): run them with NTP,
as any database cluster needs anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.delivery.outbox import release_claims_except
from db.models import BotProcess, SchedulerLease
from db.queries import insert_or_skip

LEASE = "scheduler"
TIME_TO_LIVE = timedelta(seconds=20)
"""A leader silent this long has lost the lease; with renewal every 5 s, the jobs move to
another process within 25 s of the leader's death."""
RENEW_EVERY = timedelta(seconds=5)


async def register(
    session: AsyncSession, process_id: str, host: str, pid: int, now: datetime, *, only_one: bool
) -> None:
    """A process starts. `only_one` (SQLite): every other process is gone, and so is its lease."""
    if only_one:
        await session.exec(
            update(BotProcess).where(col(BotProcess.stopped_at).is_(None)).values(stopped_at=now)
        )
        await session.exec(
            update(SchedulerLease)
            .where(col(SchedulerLease.holder) != process_id)
            .values(expires_at=now)
        )
    session.add(
        BotProcess(id=process_id, host=host[:100], pid=pid, started_at=now, heartbeat_at=now)
    )


async def hold_lease(session: AsyncSession, process_id: str, now: datetime) -> bool:
    """Renew the lease when this process holds it, take it when it has run out; True when this
    process leads now. One conditional UPDATE: two processes cannot both win it."""
    # A process declared gone by another's start on SQLite (`register`) that is in fact still
    # running is alive again: otherwise every claim it makes from then on would be taken from
    # it as an orphan and sent a second time.
    await session.exec(
        update(BotProcess)
        .where(col(BotProcess.id) == process_id)
        .values(heartbeat_at=now, stopped_at=None)
    )
    dialect = session.get_bind().dialect.name
    await session.exec(
        insert_or_skip(dialect, SchedulerLease).values(
            name=LEASE, holder=process_id, acquired_at=now, expires_at=now - TIME_TO_LIVE
        )
    )
    mine = col(SchedulerLease.holder) == process_id
    result = await session.exec(
        update(SchedulerLease)
        .where(
            col(SchedulerLease.name) == LEASE,
            or_(mine, col(SchedulerLease.expires_at) <= now),
        )
        .values(
            holder=process_id,
            expires_at=now + TIME_TO_LIVE,
            acquired_at=case(
                (and_(mine, col(SchedulerLease.expires_at) > now), SchedulerLease.acquired_at),
                else_=now,
            ),
        )
    )
    return bool(result.rowcount)


async def leader(session: AsyncSession, now: datetime) -> str | None:
    """The process holding the lease now, if any."""
    lease = await session.get(SchedulerLease, LEASE)
    return lease.holder if lease is not None and lease.expires_at > now else None


async def live_processes(session: AsyncSession, now: datetime) -> int:
    """How many processes serve the database now (at least this one)."""
    statement = select(func.count()).select_from(BotProcess).where(*_alive(now))
    return max(1, int((await session.exec(statement)).one()))


def _alive(now: datetime) -> list[ColumnElement[bool]]:
    return [col(BotProcess.stopped_at).is_(None), col(BotProcess.heartbeat_at) > now - TIME_TO_LIVE]


async def stop(session: AsyncSession, process_id: str, now: datetime) -> None:
    """A process leaves cleanly: gone at once, and its lease free for the next at once."""
    await session.exec(
        update(BotProcess).where(col(BotProcess.id) == process_id).values(stopped_at=now)
    )
    await session.exec(
        update(SchedulerLease)
        .where(col(SchedulerLease.holder) == process_id)
        .values(expires_at=now)
    )


async def recover_orphans(session: AsyncSession, now: datetime) -> int:
    """Unconfirmed outbox attempts of gone processes go back in the queue, counted in doubt
    (each may reach its recipient a second time). Returns how many."""
    return await release_claims_except(session, select(BotProcess.id).where(*_alive(now)))
