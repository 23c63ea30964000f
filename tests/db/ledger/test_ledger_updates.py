"""Ledger steps with evidence, office findings, the office's views and drafts; on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.audit import trail
from db.cases.drafts import DraftFile
from db.engine import session_factory
from db.ledger import drafts as ledger_drafts
from db.ledger.drafts import UpdateDraft, item_subject
from db.ledger.items import ItemAccess, NewItem
from db.ledger.rules import LedgerAction, LedgerProblem
from db.ledger.updates import files_by_update, ledger_rows, record_finding, record_step
from db.models import (
    Account,
    Department,
    DepartmentKind,
    DutyFile,
    LedgerSource,
    LedgerState,
)

NOW = datetime(2026, 3, 16, 2, 30, tzinfo=UTC)
PHOTO = DraftFile("photo", "image/jpeg", 2048, "a" * 64, f"aa/{'a' * 64}")


async def _setup(session: AsyncSession) -> tuple[int, int, int]:
    police = Department(code="D011", name="市公安局", kind=DepartmentKind.department)
    tax = Department(code="D012", name="市税务局", kind=DepartmentKind.department)
    admin = Account(telegram_id=900, language="en")
    session.add_all([police, tax, admin])
    await session.flush()
    assert police.id and tax.id and admin.id
    return police.id, tax.id, admin.id


async def test_steps_carry_their_files_and_office_steps_are_audited(
    any_engine: AsyncEngine,
) -> None:
    async with session_factory(any_engine)() as session:
        police, tax, admin = await _setup(session)
        item = await record_finding(
            session,
            NewItem(police, LedgerSource.inspection, "暗访发现脱岗", NOW + timedelta(days=9)),
            [PHOTO],
            actor_account_id=admin,
            now=NOW,
        )
        await record_finding(
            session,
            NewItem(tax, LedgerSource.inspection, "另一单位", NOW + timedelta(days=9)),
            [],
            actor_account_id=admin,
            now=NOW,
        )
        assert item.id is not None
        # Another unit's liaison cannot touch it; a liaison cannot confirm.
        assert (
            await record_step(
                session,
                item.id,
                LedgerAction.progress,
                "x",
                [],
                actor_account_id=None,
                now=NOW,
                department_ids=[tax],
            )
            is ItemAccess.not_yours
        )
        done = await record_step(
            session,
            item.id,
            LedgerAction.done,
            "已整改",
            [PHOTO, PHOTO],
            actor_account_id=None,
            now=NOW,
            department_ids=[police],
        )
        assert not isinstance(done, (LedgerProblem, ItemAccess))
        again = await record_step(
            session,
            item.id,
            LedgerAction.done,
            "再次",
            [PHOTO],
            actor_account_id=None,
            now=NOW,
            department_ids=[police],
        )
        assert again is LedgerProblem.not_open
        stale = await record_step(
            session,
            item.id,
            LedgerAction.confirm,
            None,
            actor_account_id=admin,
            now=NOW,
            department_ids=None,
            version=1,
        )
        assert stale is LedgerProblem.stale
        confirmed = await record_step(
            session,
            item.id,
            LedgerAction.confirm,
            None,
            actor_account_id=admin,
            now=NOW,
            department_ids=None,
            version=2,
        )
        assert not isinstance(confirmed, (LedgerProblem, ItemAccess))
        files = await files_by_update(session, item.id)
        assert sorted(len(v) for v in files.values()) == [1, 2]
        assert len((await session.exec(select(DutyFile))).all()) == 3
        actions = [e.action for e in await trail(session, subject="D011")]
        assert actions == ["ledger.confirmed", "ledger.inspection"]

        every = await ledger_rows(session, department_ids=None)
        assert [r.unit.code for r in every] == ["D011", "D012"]
        open_ones = await ledger_rows(
            session, department_ids=None, states=frozenset({LedgerState.open})
        )
        assert [r.unit.code for r in open_ones] == ["D012"]
        assert await ledger_rows(session, department_ids=[police], states=frozenset()) == []


async def test_drafts_survive_and_discard_returns_their_files(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        _police, _tax, admin = await _setup(session)
        draft = UpdateDraft(item_id=7, action="progress", version=3, note="进展", files=[PHOTO])
        await ledger_drafts.save(session, admin, item_subject(7), draft, NOW)
        draft.files_done = True
        await ledger_drafts.save(session, admin, item_subject(7), draft, NOW)
        await session.commit()
    async with session_factory(any_engine)() as session:
        data = await ledger_drafts.load(session, admin, item_subject(7))
        assert data is not None
        assert ledger_drafts.update_from_json(data) == draft
        assert await ledger_drafts.discard(session, admin, item_subject(7)) == [PHOTO.path]
        assert await ledger_drafts.load(session, admin, item_subject(7)) is None
        assert await ledger_drafts.discard(session, admin, item_subject(7)) == []
