"""`db.cases.search`: the filters of /cases as SQL and its pages, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.search import (
    BadFilter,
    CaseFilter,
    FilterProblem,
    parse_filters,
    search_cases,
)
from db.engine import session_factory
from db.models import Category, Department, DepartmentKind, Report, ReportState
from db.people.accounts import get_or_create_account
from tests.factories import TZ, file_report

NOW = datetime(2026, 3, 16, 2, 30, tzinfo=UTC)


async def _world(session: AsyncSession) -> tuple[int, int, list[Report]]:
    """25 reports in March (12 signed at unit A, 3 of them overdue) and 2 in February."""
    a = Department(code="A1", name="单位甲", kind=DepartmentKind.department)
    b = Department(code="B1", name="单位乙", kind=DepartmentKind.department)
    session.add_all([a, b])
    await session.flush()
    assert a.id is not None and b.id is not None
    account, _ = await get_or_create_account(session, 5001, "zh_CN")
    assert account.id is not None
    reports = []
    for i in range(27):
        at = datetime(2026, 3, 1, 1, 0, tzinfo=UTC) + timedelta(hours=i)
        if i >= 25:
            at = datetime(2026, 2, 10, tzinfo=UTC) + timedelta(hours=i)
        report = await file_report(session, account.id, at, a.id if i % 2 == 0 else b.id)
        if i < 24 and i % 2 == 0:
            report.state = ReportState.signed
            report.handling_department_id = a.id
            report.due_kind = "reply"
            report.due_at = NOW - timedelta(days=1) if i < 6 else NOW + timedelta(days=5)
        session.add(report)
        reports.append(report)
    await session.flush()
    return a.id, b.id, reports


async def test_filters_and_pages(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        a, b, reports = await _world(session)

        everything = await search_cases(session, CaseFilter(), now=NOW, tz=TZ)
        assert everything.total == 27 and everything.pages == 3 and len(everything.lines) == 10
        assert everything.lines[0].number == reports[24].number  # newest first
        last = await search_cases(session, CaseFilter(), now=NOW, tz=TZ, page=2)
        assert len(last.lines) == 7 and last.page == 2
        beyond = await search_cases(session, CaseFilter(), now=NOW, tz=TZ, page=9)
        assert beyond.page == 2 and beyond.lines == last.lines
        seen = {
            line.number
            for page in range(3)
            for line in (await search_cases(session, CaseFilter(), now=NOW, tz=TZ, page=page)).lines
        }
        assert seen == {r.number for r in reports}

        signed_a = CaseFilter(state=ReportState.signed, department_id=a)
        found = await search_cases(session, signed_a, now=NOW, tz=TZ)
        assert found.total == 12 and all(line.unit == "单位甲" for line in found.lines)

        overdue = await search_cases(
            session,
            CaseFilter(department_id=a, overdue=True, month=date(2026, 3, 1)),
            now=NOW,
            tz=TZ,
        )
        assert sorted(line.number for line in overdue.lines) == sorted(
            reports[i].number for i in (0, 2, 4)
        )
        assert all(line.overdue for line in overdue.lines)

        february = await search_cases(session, CaseFilter(month=date(2026, 2, 1)), now=NOW, tz=TZ)
        assert february.total == 2
        nothing = await search_cases(
            session, CaseFilter(department_id=b, overdue=True), now=NOW, tz=TZ
        )
        assert nothing.total == 0 and nothing.pages == 1 and nothing.lines == ()

        category = (
            await session.exec(select(Category).where(Category.code == "buck_passing"))
        ).one()
        parsed = await parse_filters(
            session, ["state=signed", "unit=a1", "category=推诿扯皮", "overdue", "month=2026-03"]
        )
        assert parsed == CaseFilter(
            state=ReportState.signed,
            department_id=a,
            category_id=category.id,
            overdue=True,
            month=date(2026, 3, 1),
        )
        assert await parse_filters(session, ["category=BUCK_PASSING"]) == CaseFilter(
            category_id=category.id
        )
        for args, problem in (
            (["state=done"], FilterProblem.bad_state),
            (["unit=Z9"], FilterProblem.unknown_unit),
            (["category=nothing"], FilterProblem.unknown_category),
            (["month=2026-13"], FilterProblem.bad_month),
            (["colour=red"], FilterProblem.unknown_key),
            (["overdue=yes"], FilterProblem.unknown_key),
        ):
            bad = await parse_filters(session, args)
            assert isinstance(bad, BadFilter) and bad.problem is problem, args
