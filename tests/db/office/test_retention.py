"""`db.office.retention`: old closed reports lose the reporter's data and files, nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.engine import session_factory
from db.files import store_bytes
from db.models import (
    Attachment,
    AuditEvent,
    EventKind,
    IdentityMode,
    Report,
    ReportEvent,
    ReportState,
)
from db.office.retention import purge_candidates, purge_report
from db.people.accounts import get_or_create_account
from tests.conftest import NOW
from tests.factories import file_report

DAYS = 365
OLD = NOW - timedelta(days=DAYS + 30)


async def _report(
    session: AsyncSession,
    root: Path,
    *,
    state: ReportState,
    updated_days_ago: int,
    content: bytes,
    mode: IdentityMode = IdentityMode.real_name,
    telegram_id: int = 5001,
) -> Report:
    account, _new = await get_or_create_account(session, telegram_id, "zh_CN")
    assert account.id is not None
    report = await file_report(session, account.id, OLD, mode=mode)
    report.state = state
    report.updated_at = NOW - timedelta(days=updated_days_ago)
    report.receipt_hash = f"hash-{report.number}"
    session.add(report)
    sha, rel = store_bytes(root, content)
    session.add(
        Attachment(
            report_id=report.id or 0,
            kind="photo",
            mime_type="image/jpeg",
            size=len(content),
            sha256=sha,
            path=rel,
            created_at=OLD,
        )
    )
    await session.flush()
    return report


async def test_only_old_closed_reports_are_candidates(engine: AsyncEngine, tmp_path: Path) -> None:
    root = tmp_path / "attachments"
    async with session_factory(engine)() as session:
        old_closed = await _report(
            session, root, state=ReportState.closed, updated_days_ago=DAYS + 1, content=b"a"
        )
        old_rejected = await _report(
            session, root, state=ReportState.rejected, updated_days_ago=DAYS + 5, content=b"b"
        )
        await _report(
            session, root, state=ReportState.closed, updated_days_ago=DAYS - 1, content=b"c"
        )
        await _report(
            session, root, state=ReportState.replied, updated_days_ago=DAYS + 9, content=b"d"
        )
        await session.commit()
        found = await purge_candidates(session, NOW, DAYS)
    assert [c.number for c in found] == [old_rejected.number, old_closed.number]
    assert found[1].attachments == 1
    assert set(found[1].personal_fields) == {
        "reporter_name",
        "reporter_phone",
        "reporter_account_id",
        "receipt_hash",
    }


async def test_purge_keeps_content_removes_person_and_unshared_files(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    root = tmp_path / "attachments"
    async with session_factory(engine)() as session:
        old = await _report(
            session, root, state=ReportState.closed, updated_days_ago=DAYS + 1, content=b"only"
        )
        # The same photo (same SHA-256 file) on a recent open report must stay on disk.
        await _report(
            session, root, state=ReportState.closed, updated_days_ago=DAYS + 2, content=b"shared"
        )
        await _report(
            session, root, state=ReportState.signed, updated_days_ago=1, content=b"shared"
        )
        old_id, old_number = old.id, old.number
        await session.commit()
        candidates = await purge_candidates(session, NOW, DAYS)
        assert len(candidates) == 2
        results = []
        for candidate in candidates:
            purged = await purge_report(
                session, candidate.report_id, now=NOW, attachments_root=root
            )
            await session.commit()
            assert purged is not None
            results.append(purged)
        assert sum(r.files_removed for r in results) == 1
        assert sorted(p.name for p in root.rglob("*") if p.is_file()) == [
            store_bytes(tmp_path / "scratch", b"shared")[0]
        ]

        session.expire_all()
        report = await session.get(Report, old_id)
        assert report is not None
        assert (report.reporter_name, report.reporter_phone) == (None, None)
        assert (report.reporter_account_id, report.receipt_hash) == (None, None)
        assert report.description and report.state == ReportState.closed
        events = (
            await session.exec(select(ReportEvent).where(col(ReportEvent.report_id) == old_id))
        ).all()
        assert all(e.actor_account_id is None for e in events)
        [purged_event] = [e for e in events if e.kind == EventKind.purged]
        assert purged_event.public is False
        left = (
            await session.exec(select(Attachment).where(col(Attachment.report_id) == old_id))
        ).all()
        assert left == []
        audit = (
            await session.exec(select(AuditEvent).where(col(AuditEvent.subject) == old_number))
        ).all()
        assert [(a.action, a.actor_account_id) for a in audit] == [("retention.purge", None)]

        # Idempotent: nothing is due any more, and a second purge of the same report is a no-op.
        assert await purge_candidates(session, NOW, DAYS) == []
        assert await purge_report(session, old_id or 0, now=NOW, attachments_root=root) is None


async def test_a_reopened_report_is_not_purged(engine: AsyncEngine, tmp_path: Path) -> None:
    root = tmp_path / "attachments"
    async with session_factory(engine)() as session:
        report = await _report(
            session, root, state=ReportState.closed, updated_days_ago=DAYS + 1, content=b"x"
        )
        await session.commit()
        [candidate] = await purge_candidates(session, NOW, DAYS)
        report.state = ReportState.signed
        session.add(report)
        await session.commit()
        assert (
            await purge_report(session, candidate.report_id, now=NOW, attachments_root=root) is None
        )
        assert report.reporter_name == "张三"
