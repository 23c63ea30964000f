from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.drafts import Draft, DraftFile, load_draft, save_draft
from db.cases.handling import ConfiguredLimits
from db.cases.receipts import hash_receipt, legacy_hash_receipt, normalize_receipt
from db.cases.reports import (
    file_report,
    format_number,
    next_seq,
    parse_number,
    report_by_receipt,
    report_of_account,
    reports_of_account,
    submit_draft,
)
from db.cases.rules import Limits, OwnerKind
from db.engine import session_factory
from db.models import (
    Attachment,
    Department,
    DepartmentKind,
    IdentityMode,
    Report,
    ReportEvent,
    ReportState,
)
from db.people.accounts import get_or_create_account
from tests.conftest import NOW
from tests.factories import complete_draft

TZ = ZoneInfo("Asia/Shanghai")


def test_number_format_and_parse() -> None:
    assert format_number(2026, 123) == "ZF2026-000123"
    assert parse_number(" zf2026-123 ") == "ZF2026-000123"
    assert parse_number("ZF2026-000000") is None
    assert parse_number("ZF26-1") is None
    assert parse_number("hello") is None


async def test_numbers_are_sequential_per_year_on_both_backends(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        assert [await next_seq(session, 2026) for _ in range(3)] == [1, 2, 3]
        assert await next_seq(session, 2027) == 1
        await session.commit()
    async with sessions() as session:
        assert await next_seq(session, 2026) == 4


async def test_concurrent_submissions_get_distinct_numbers(any_engine: AsyncEngine) -> None:
    sessions = session_factory(any_engine)
    async with sessions() as session:
        account, _ = await get_or_create_account(session, 1001, "zh_CN")
        await session.commit()
        account_id = account.id

    async def submit() -> str:
        async with sessions() as session:
            draft = await complete_draft(session, IdentityMode.real_name)
            result = await submit_draft(
                session, account_id=account_id, draft=draft, language="zh_CN", now=NOW, tz=TZ
            )
            await session.commit()
            return result.report.number

    numbers = await asyncio.gather(*(submit() for _ in range(5)))
    assert sorted(numbers) == [f"ZF2026-{i:06d}" for i in range(1, 6)]


@pytest.mark.parametrize("mode", list(IdentityMode))
async def test_submit_keeps_identity_only_as_chosen(
    session: AsyncSession, mode: IdentityMode
) -> None:
    account, _ = await get_or_create_account(session, 2002, "zh_CN")
    assert account.id is not None
    draft = await complete_draft(session, mode)
    draft.attachments.append(
        DraftFile(kind="photo", mime_type="image/jpeg", size=3, sha256="ab" * 32, path="ab/x")
    )
    result = await submit_draft(
        session, account_id=account.id, draft=draft, language="en", now=NOW, tz=TZ
    )
    await session.commit()
    report = result.report
    assert report.number == "ZF2026-000001"
    events = (await session.exec(select(ReportEvent))).all()
    attachments = (await session.exec(select(Attachment))).all()
    assert len(events) == 1 and len(attachments) == 1
    if mode is IdentityMode.fully_anonymous:
        assert report.reporter_account_id is None
        assert events[0].actor_account_id is None
        assert await reports_of_account(session, account.id) == []
    else:
        assert report.reporter_account_id == account.id
        assert [r.number for r in await reports_of_account(session, account.id)] == [report.number]
    if mode is IdentityMode.real_name:
        assert result.receipt is None
        assert (report.reporter_name, report.reporter_phone) == ("张三", "+8613800138000")
    else:
        assert result.receipt is not None
        assert report.reporter_name is None and report.reporter_phone is None
        # Only the hash is stored, never the code itself.
        raw = normalize_receipt(result.receipt)
        assert raw is not None and raw not in (report.receipt_hash or "")
        found = await report_by_receipt(session, raw)
        assert found is not None and found.id == report.id


async def test_status_lookup_is_limited_to_own_reports(session: AsyncSession) -> None:
    owner, _ = await get_or_create_account(session, 3003, "zh_CN")
    other, _ = await get_or_create_account(session, 4004, "zh_CN")
    assert owner.id and other.id
    draft = await complete_draft(session, IdentityMode.anonymous)
    result = await submit_draft(
        session, account_id=owner.id, draft=draft, language="zh_CN", now=NOW, tz=TZ
    )
    number = result.report.number
    assert await report_of_account(session, owner.id, number) is not None
    assert await report_of_account(session, other.id, number) is None


async def test_incomplete_draft_is_refused(session: AsyncSession) -> None:
    account, _ = await get_or_create_account(session, 5005, "zh_CN")
    assert account.id
    with pytest.raises(ValueError, match="not complete"):
        await submit_draft(
            session, account_id=account.id, draft=Draft(), language="zh_CN", now=NOW, tz=TZ
        )
    assert (await session.exec(select(Report))).all() == []


async def test_draft_round_trip_and_revision(session: AsyncSession) -> None:
    account, _ = await get_or_create_account(session, 6006, "zh_CN")
    assert account.id
    draft = await complete_draft(session, IdentityMode.real_name)
    await save_draft(session, account.id, draft, NOW)
    rev = draft.rev
    await save_draft(session, account.id, draft, NOW + timedelta(seconds=5))
    assert draft.rev == rev, "saving unchanged content must not invalidate the summary"
    draft.description = "另一段足够长的描述文字。"
    await save_draft(session, account.id, draft, NOW + timedelta(seconds=9))
    assert draft.rev == rev + 1
    await session.commit()
    loaded = await load_draft(session, account.id)
    assert loaded is not None
    stored, updated_at = loaded
    assert stored == draft
    assert updated_at == NOW + timedelta(seconds=9)


async def test_filing_a_report_opens_its_case_and_drops_the_draft(session: AsyncSession) -> None:
    account, _ = await get_or_create_account(session, 1001, "zh_CN")
    assert account.id is not None
    draft = await complete_draft(session, IdentityMode.anonymous)
    await save_draft(session, account.id, draft, NOW)
    filed = await file_report(
        session,
        account_id=account.id,
        draft=draft,
        language="zh_CN",
        now=NOW,
        configured=ConfiguredLimits(Limits()),
        tz=TZ,
        auto_assign=False,
    )
    await session.commit()
    report = filed.report
    assert report.state is ReportState.received
    assert report.owner_kind == OwnerKind.admins.value
    assert report.due_at is not None and report.due_at > NOW
    assert filed.receipt is not None
    assert await load_draft(session, account.id) is None


async def test_a_filed_report_goes_straight_to_its_unit_with_auto_assign(
    session: AsyncSession,
) -> None:
    account, _ = await get_or_create_account(session, 1002, "zh_CN")
    assert account.id is not None
    unit = Department(code="W901", name="政务服务窗口", kind=DepartmentKind.window)
    session.add(unit)
    await session.flush()
    draft = await complete_draft(session, IdentityMode.real_name, department_id=unit.id)
    filed = await file_report(
        session,
        account_id=account.id,
        draft=draft,
        language="zh_CN",
        now=NOW,
        configured=ConfiguredLimits(Limits()),
        tz=TZ,
        auto_assign=True,
    )
    assert filed.report.state is ReportState.assigned
    assert filed.report.handling_department_id == unit.id


async def test_a_receipt_stored_the_old_way_opens_once_then_is_stored_the_new_way(
    session: AsyncSession,
) -> None:
    account, _ = await get_or_create_account(session, 5005, "zh_CN")
    assert account.id
    draft = await complete_draft(session, IdentityMode.fully_anonymous)
    result = await submit_draft(
        session, account_id=account.id, draft=draft, language="zh_CN", now=NOW, tz=TZ
    )
    raw = normalize_receipt(result.receipt or "")
    assert raw is not None
    report = result.report
    report.receipt_hash = legacy_hash_receipt(raw)  # as a report filed before the change
    session.add(report)
    await session.commit()

    found = await report_by_receipt(session, raw)
    assert found is not None and found.id == report.id
    await session.commit()
    assert report.receipt_hash == hash_receipt(raw) != legacy_hash_receipt(raw)
    assert (report.receipt_hash or "").startswith("sha256:")
    assert await report_by_receipt(session, raw) is not None, "and found the new way after"
    wrong = normalize_receipt("0" * 20)
    assert wrong is not None and await report_by_receipt(session, wrong) is None
