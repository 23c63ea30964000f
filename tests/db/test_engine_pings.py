"""PostgreSQL connections are pinged before use only after lying idle, and a dead one is replaced
before any statement of the bot meets it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from db import engine as engine_module
from db.engine import create_engine


def _count_pings(engine: Any) -> list[int]:
    pings = [0]
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings[0] += 1
        return bool(ping(dbapi_connection))

    engine.dialect.do_ping = counted
    return pings


async def test_a_connection_used_a_moment_ago_is_not_pinged(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    pings = _count_pings(engine)
    try:
        for _ in range(5):
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        assert pings[0] == 0, "one connection, back in the pool a moment ago each time"
    finally:
        await engine.dispose()


async def test_an_idle_connection_whose_server_side_died_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(postgres_url)
    pings = _count_pings(engine)
    try:
        async with engine.connect() as connection:
            backend = await connection.scalar(text("SELECT pg_backend_pid()"))
        other = create_engine(postgres_url)  # the server's side dies, as in a failover
        try:
            async with other.connect() as killer:
                await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        finally:
            await other.dispose()
        # Make every connection count as idle for long: the next checkout pings.
        monkeypatch.setattr(engine_module, "TRUSTED_FOR_SECONDS", 0.0)
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT 1")) == 1
            assert await connection.scalar(text("SELECT pg_backend_pid()")) != backend
        assert pings[0] >= 1
    finally:
        await engine.dispose()
