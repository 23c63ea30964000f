"""`zhengfeng db copy`: an office moves from its SQLite file to another database (PostgreSQL in
the postgres half, another SQLite file in the other) with every row, working ids and a count."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from db.copy import CopyRefused, copy_database
from db.engine import create_engine, session_factory
from db.models import Department, Report
from db.people.accounts import get_or_create_account
from tests.conftest import NOW
from tests.factories import file_report
from tests.harness import prepare_database


async def _office(url: str) -> list[str]:
    """A SQLite office with departments, an account and two reports; their numbers."""
    await prepare_database(url)
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        account, _ = await get_or_create_account(session, 501, "zh_CN")
        unit = (await session.exec(select(Department).limit(1))).one()
        first = await file_report(session, account.id, NOW, department_id=unit.id)
        second = await file_report(session, account.id, NOW)
        await session.commit()
        numbers = [first.number, second.number]
    await engine.dispose()
    return numbers


async def test_every_row_is_copied_and_new_ids_follow_the_copied_ones(
    tmp_path: Path, database_url: str | None
) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path}/office.db"
    target = database_url or f"sqlite+aiosqlite:///{tmp_path}/copy.db"
    numbers = await _office(source)

    copied = {t.name: t.rows for t in await copy_database(source, target)}

    assert copied["report"] == 2 and copied["account"] == 1 and copied["department"] > 0
    engine = create_engine(target)
    async with session_factory(engine)() as session:
        reports = (await session.exec(select(Report).order_by(Report.id))).all()
        assert [r.number for r in reports] == numbers
        assert reports[0].created_at == NOW, "datetimes keep their zone through the copy"
        # The next report gets a new id, not the first copied one's.
        account, _ = await get_or_create_account(session, 502, "zh_CN")
        third = await file_report(session, account.id, NOW)
        await session.commit()
        assert third.id > max(r.id for r in reports)
        assert account.id > 1, "the accounts' ids follow the copied account's"
        count = await session.exec(select(func.count()).select_from(Report))
        assert count.one() == 3
    await engine.dispose()


async def test_a_target_with_rows_is_refused(tmp_path: Path, database_url: str | None) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path}/office.db"
    target = database_url or f"sqlite+aiosqlite:///{tmp_path}/copy.db"
    await _office(source)
    await prepare_database(target)  # the sample departments: an office already lives there

    with pytest.raises(CopyRefused, match="not empty"):
        await copy_database(source, target)
