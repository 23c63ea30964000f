"""Processes sharing a database: one leads the jobs at a time, the jobs move when it is gone,
and only a gone process's unconfirmed outbox attempts are sent again. On both engines."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.delivery.outbox import claim, enqueue
from db.models import BotProcess, OutboxMessage
from db.office.processes import (
    TIME_TO_LIVE,
    hold_lease,
    leader,
    recover_orphans,
    register,
    stop,
)
from tests.conftest import NOW


async def _start(session: AsyncSession, *names: str, only_one: bool = False) -> None:
    for name in names:
        await register(session, name, "host", 1, NOW, only_one=only_one)
    await session.commit()


async def test_one_process_leads_and_another_takes_over_when_it_falls_silent(
    session: AsyncSession,
) -> None:
    await _start(session, "a", "b")
    assert await hold_lease(session, "a", NOW)
    assert not await hold_lease(session, "b", NOW + timedelta(seconds=1))
    # a renews: still a's, however often b tries.
    assert await hold_lease(session, "a", NOW + timedelta(seconds=5))
    assert not await hold_lease(session, "b", NOW + timedelta(seconds=6))
    # a falls silent: once its lease has run out, b leads, and a's next renewal fails.
    later = NOW + timedelta(seconds=5) + TIME_TO_LIVE
    assert await hold_lease(session, "b", later)
    assert await leader(session, later) == "b"
    assert not await hold_lease(session, "a", later + timedelta(seconds=1))


async def test_a_process_that_leaves_frees_the_lease_at_once(session: AsyncSession) -> None:
    await _start(session, "a", "b")
    assert await hold_lease(session, "a", NOW)
    await stop(session, "a", NOW + timedelta(seconds=1))
    assert await hold_lease(session, "b", NOW + timedelta(seconds=1))


async def _claimed(session: AsyncSession, key: str, by: str) -> int:
    await enqueue(session, key=key, text=key, now=NOW, chat_id=42)
    row = (await session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))).one()
    assert row.id is not None and await claim(session, row.id, NOW, by)
    return row.id


async def test_only_a_gone_processs_attempts_go_back_in_the_queue(session: AsyncSession) -> None:
    await _start(session, "alive", "silent", "stopped")
    mine = await _claimed(session, "alive's", "alive")
    silent = await _claimed(session, "silent's", "silent")
    stopped = await _claimed(session, "stopped's", "stopped")
    await stop(session, "stopped", NOW)
    await session.commit()
    later = NOW + TIME_TO_LIVE + timedelta(seconds=1)
    await hold_lease(session, "alive", later)  # its heartbeat

    assert await recover_orphans(session, later) == 2
    await session.commit()
    session.expire_all()
    rows = {
        row.id: row
        for row in (await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))
    }
    assert rows[mine].claimed_at is not None and rows[mine].in_doubt == 0, "a live claim stays"
    for orphan in (silent, stopped):
        assert rows[orphan].claimed_at is None and rows[orphan].in_doubt == 1
    assert await recover_orphans(session, later) == 0, "recovered once, counted once"


async def test_on_sqlite_a_starting_process_declares_the_others_gone(
    session: AsyncSession,
) -> None:
    """One process per SQLite file: a restart after a crash recovers and leads at once."""
    await _start(session, "crashed")
    assert await hold_lease(session, "crashed", NOW)
    orphan = await _claimed(session, "crashed's", "crashed")
    await session.commit()

    await _start(session, "restarted", only_one=True)
    assert await hold_lease(session, "restarted", NOW + timedelta(seconds=1))
    assert await recover_orphans(session, NOW + timedelta(seconds=1)) == 1
    session.expire_all()
    gone = await session.get(BotProcess, "crashed")
    assert gone is not None and gone.stopped_at is not None
    row = await session.get(OutboxMessage, orphan)
    assert row is not None and row.claimed_at is None and row.in_doubt == 1


async def test_a_process_declared_gone_that_still_runs_keeps_its_later_claims(
    session: AsyncSession,
) -> None:
    """Two processes overlap on one SQLite file (a restart started before the old one ended):
    the old one's next heartbeat brings it back, and what it claims after is not an orphan."""
    await _start(session, "old")
    assert await hold_lease(session, "old", NOW)
    await _start(session, "new", only_one=True)
    assert await hold_lease(session, "new", NOW + timedelta(seconds=1))
    assert not await hold_lease(session, "old", NOW + timedelta(seconds=2)), "new leads"
    claimed = await _claimed(session, "old's", "old")
    await session.commit()
    assert await recover_orphans(session, NOW + timedelta(seconds=3)) == 0
    session.expire_all()
    row = await session.get(OutboxMessage, claimed)
    assert row is not None and row.claimed_at is not None and row.in_doubt == 0


async def test_a_claim_passes_over_a_row_another_process_is_claiming(postgres_url: str) -> None:
    """PostgreSQL: while another transaction holds the row, a claim answers False at once (it
    does not wait for that transaction), and once the row is free again it is claimed."""
    import asyncio

    from sqlalchemy import text

    from db.engine import create_engine, session_factory
    from db.migrate import upgrade_engine

    engine = create_engine(postgres_url)
    await upgrade_engine(engine)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            await enqueue(session, key="busy", text="busy", now=NOW, chat_id=42)
            await session.commit()
            row_id = (await session.exec(select(OutboxMessage.id))).one()
        async with engine.connect() as other:
            await other.execute(
                text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": row_id}
            )
            async with sessions() as session, asyncio.timeout(5):
                assert not await claim(session, row_id, NOW, "b"), "held by the other"
                await session.rollback()
            await other.rollback()
        async with sessions() as session:
            assert await claim(session, row_id, NOW, "b")
            await session.commit()
    finally:
        await engine.dispose()
