"""The inbox: the list the office reads and the check of a pressed button agree on every report."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from db.cases.inbox import in_inbox, inbox_condition, inbox_page
from db.cases.rules import OwnerKind
from db.engine import session_factory
from db.models import Account, Report, ReportState
from tests.conftest import NOW
from tests.factories import file_report


async def test_the_list_and_the_check_are_one_definition(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        account = Account(telegram_id=1001, language="zh_CN")
        session.add(account)
        await session.flush()
        assert account.id is not None
        combinations = [(s, o) for s in ReportState for o in [None, *OwnerKind]]
        for state, owner in combinations:
            report = await file_report(session, account.id, NOW)
            report.state = state
            report.owner_kind = owner.value if owner is not None else None
            session.add(report)
        await session.commit()
        reports = list((await session.exec(select(Report))).all())
        listed = set((await session.exec(select(col(Report.id)).where(inbox_condition()))).all())
    assert listed == {r.id for r in reports if in_inbox(r)}
    waiting = {(r.state, r.owner_kind) for r in reports if in_inbox(r)}
    assert {s for s, _owner in waiting} == {
        ReportState.received,
        ReportState.returned,
        ReportState.escalated,
    }
    assert {o for s, o in waiting if s is ReportState.escalated} == {OwnerKind.admins.value}


async def test_the_list_puts_the_soonest_due_first(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        account = Account(telegram_id=1002, language="zh_CN")
        session.add(account)
        await session.flush()
        assert account.id is not None
        later = await file_report(session, account.id, NOW)
        sooner = await file_report(session, account.id, NOW)
        undated = await file_report(session, account.id, NOW)
        later.due_at, sooner.due_at, undated.due_at = NOW.replace(day=20), NOW, None
        session.add_all([later, sooner, undated])
        await session.commit()
        listed = await inbox_page(session, 0, page_size=10)
        second = await inbox_page(session, 1, page_size=2)
        beyond = await inbox_page(session, 7, page_size=2)
    assert [r.id for r in listed.reports] == [sooner.id, later.id, undated.id]
    assert (listed.total, listed.pages) == (3, 1)
    assert [r.id for r in second.reports] == [undated.id] and second.pages == 2
    assert beyond.page == 1, "a page past the end shows the last one"
