"""Finding reports for the office (/cases): filters as SQL, one page at a time.

Filters: state, department (the unit handling the report, or the one the reporter named while
nobody handles it yet), category, overdue now, and the local month the report was filed in.
Pages are LIMIT/OFFSET over a stable order (newest first, then id), counted in the same call, so
a page button pressed after the list changed still shows a valid page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.months import month_bounds, parse_month
from db.cases.rules import TERMINAL_STATES, DueKind
from db.models import Category, Department, Report, ReportState
from db.queries import select_rows

PAGE_SIZE = 10


@dataclass(frozen=True)
class CaseFilter:
    state: ReportState | None = None
    department_id: int | None = None
    category_id: int | None = None
    overdue: bool = False
    month: date | None = None
    """The first day of a local month."""


class FilterProblem(StrEnum):
    """Why a typed filter was not understood; each gets its own answer."""

    unknown_key = "unknown_key"
    bad_state = "bad_state"
    unknown_unit = "unknown_unit"
    unknown_category = "unknown_category"
    bad_month = "bad_month"


@dataclass(frozen=True)
class BadFilter:
    problem: FilterProblem
    token: str


async def _department_id(session: AsyncSession, code: str) -> int | None:
    statement = select(Department.id).where(func.upper(col(Department.code)) == code.upper())
    return (await session.exec(statement)).first()


async def _category_id(session: AsyncSession, text: str) -> int | None:
    """By code (`buck_passing`) or by name in either language (`推诿扯皮`)."""
    lowered = text.lower()
    statement = select(Category.id).where(
        or_(
            func.lower(col(Category.code)) == lowered,
            col(Category.name_zh) == text,
            func.lower(col(Category.name_en)) == lowered,
        )
    )
    return (await session.exec(statement)).first()


async def parse_filters(session: AsyncSession, args: list[str]) -> CaseFilter | BadFilter:
    """`state=signed unit=D011 category=buck_passing overdue month=2026-03`, in any order."""
    found = CaseFilter()
    for token in args:
        key, has_value, value = token.partition("=")
        key = key.lower()
        if key == "overdue" and not has_value:
            found = replace(found, overdue=True)
        elif key == "state" and has_value:
            try:
                found = replace(found, state=ReportState(value.lower()))
            except ValueError:
                return BadFilter(FilterProblem.bad_state, value)
        elif key in ("unit", "dept", "department") and has_value:
            department_id = await _department_id(session, value)
            if department_id is None:
                return BadFilter(FilterProblem.unknown_unit, value)
            found = replace(found, department_id=department_id)
        elif key == "category" and has_value:
            category_id = await _category_id(session, value)
            if category_id is None:
                return BadFilter(FilterProblem.unknown_category, value)
            found = replace(found, category_id=category_id)
        elif key == "month" and has_value:
            try:
                found = replace(found, month=parse_month(value))
            except ValueError:
                return BadFilter(FilterProblem.bad_month, value)
        else:
            return BadFilter(FilterProblem.unknown_key, token)
    return found


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Open and past a due time somebody owes (the office or the unit); a passed rating due
    only means the report closes unrated, so it is not overdue."""
    return and_(
        col(Report.state).not_in(list(TERMINAL_STATES)),
        col(Report.due_at) < now,
        col(Report.due_kind) != DueKind.rating.value,
    )


def _conditions(case_filter: CaseFilter, now: datetime, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if case_filter.state is not None:
        conditions.append(col(Report.state) == case_filter.state)
    if case_filter.department_id is not None:
        unit = func.coalesce(col(Report.handling_department_id), col(Report.department_id))
        conditions.append(unit == case_filter.department_id)
    if case_filter.category_id is not None:
        conditions.append(col(Report.category_id) == case_filter.category_id)
    if case_filter.overdue:
        conditions.append(overdue_condition(now))
    if case_filter.month is not None:
        start, end = month_bounds(case_filter.month, tz)
        conditions += [col(Report.created_at) >= start, col(Report.created_at) < end]
    return conditions


@dataclass(frozen=True)
class CaseLine:
    number: str
    state: ReportState
    unit: str | None
    category_zh: str
    category_en: str
    due_at: datetime | None
    overdue: bool
    created_at: datetime


@dataclass(frozen=True)
class CasePage:
    lines: tuple[CaseLine, ...]
    total: int
    page: int
    """0-based, clamped into the pages that exist (a stale button may ask for one past the end)."""
    pages: int


async def search_cases(
    session: AsyncSession,
    case_filter: CaseFilter,
    *,
    now: datetime,
    tz: ZoneInfo,
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> CasePage:
    """One page of the matching reports, newest first, with the total: two statements."""
    conditions = _conditions(case_filter, now, tz)
    total = int(
        await session.scalar(select(func.count()).select_from(Report).where(*conditions)) or 0
    )
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    unit = aliased(Department)
    statement = (
        select_rows(
            col(Report.number),
            col(Report.state),
            col(unit.name),
            col(Category.name_zh),
            col(Category.name_en),
            col(Report.due_at),
            overdue_condition(now),
            col(Report.created_at),
        )
        .join(Category, col(Category.id) == col(Report.category_id))
        .outerjoin(
            unit,
            col(unit.id)
            == func.coalesce(col(Report.handling_department_id), col(Report.department_id)),
        )
        .where(*conditions)
        .order_by(col(Report.created_at).desc(), col(Report.id).desc())
        .offset(page * page_size)
        .limit(page_size)
    )
    rows = (await session.exec(statement)).all()
    lines = tuple(
        CaseLine(
            number=number,
            state=ReportState(state),
            unit=unit_name,
            category_zh=zh,
            category_en=en,
            due_at=due_at,
            overdue=bool(overdue),
            created_at=created_at,
        )
        for number, state, unit_name, zh, en, due_at, overdue, created_at in rows
    )
    return CasePage(lines=lines, total=total, page=page, pages=pages)
