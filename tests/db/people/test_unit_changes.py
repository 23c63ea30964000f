"""The office's changes to a unit: rename, class, and on/off (refused while it owes reports)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.reports import deactivate_department
from db.cases.rules import TERMINAL_STATES
from db.models import Account, Department, DepartmentKind, ReportState
from db.people.departments import (
    UnitProblem,
    parse_class,
    reactivate_department,
    rename_department,
    set_department_class,
)
from tests.conftest import NOW
from tests.factories import file_report


async def _unit(session: AsyncSession) -> Department:
    unit = Department(code="D901", name="市测试局", kind=DepartmentKind.department)
    session.add(unit)
    await session.flush()
    return unit


async def test_rename_and_class(session: AsyncSession) -> None:
    unit = await _unit(session)
    assert await rename_department(session, unit, "市测试管理局") is None
    assert await rename_department(session, unit, "局" * 201) is UnitProblem.bad_name
    assert unit.name == "市测试管理局"
    assert parse_class("执法监督") == "执法监督"
    assert parse_class(" 无 ") is None and parse_class("NONE") is None
    assert parse_class("不存在的类别") is UnitProblem.bad_class
    await set_department_class(session, unit, "执法监督")
    assert unit.dept_class == "执法监督"


async def test_a_unit_owing_reports_stays_on(session: AsyncSession) -> None:
    unit = await _unit(session)
    account = Account(telegram_id=4001, language="zh_CN")
    session.add(account)
    await session.flush()
    assert account.id is not None and unit.id is not None
    report = await file_report(session, account.id, NOW)
    report.state, report.handling_department_id = ReportState.signed, unit.id
    session.add(report)
    await session.flush()

    assert await deactivate_department(session, unit) == [report.number]
    assert unit.active

    report.state = next(iter(TERMINAL_STATES))
    session.add(report)
    await session.flush()
    assert await deactivate_department(session, unit) == []
    assert not unit.active
    await reactivate_department(session, unit)
    assert unit.active
