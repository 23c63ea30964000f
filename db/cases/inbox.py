"""The office's inbox: the reports waiting for the campaign office to triage, and what the office
may do with each.

"In the inbox" is written once, as data (`WAITING`), and both the list (`inbox_page`, SQL)
and the check of a pressed button (`in_inbox`, Python) are made from it, so the two can never
disagree about a report.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.rules import OwnerKind
from db.models import Department, Report, ReportState

WAITING: tuple[tuple[ReportState, OwnerKind | None], ...] = (
    (ReportState.received, None),
    (ReportState.returned, None),
    (ReportState.escalated, OwnerKind.admins),
)
"""(state, owner): a report waits for the office in this state, owned by this owner (None: by
whoever owns it). New and returned reports always do; an escalated one only once the second 不满意
gave it to the office, not while its unit still owes a 重办."""

ASSIGNABLE = frozenset({ReportState.received, ReportState.returned, ReportState.escalated})
REJECTABLE = frozenset({ReportState.received, ReportState.returned})
CLOSABLE = frozenset({ReportState.escalated})


def in_inbox(report: Report) -> bool:
    return any(
        report.state is state and (owner is None or report.owner_kind == owner.value)
        for state, owner in WAITING
    )


def inbox_condition() -> ColumnElement[bool]:
    return or_(
        *(
            col(Report.state) == state
            if owner is None
            else and_(col(Report.state) == state, col(Report.owner_kind) == owner.value)
            for state, owner in WAITING
        )
    )


@dataclass(frozen=True)
class InboxPage:
    reports: tuple[Report, ...]
    total: int
    page: int
    """0-based, clamped into the pages that exist (a stale button may ask for one past the end)."""
    pages: int
    units: dict[int, str]
    """Unit id → name, for the units the listed reporters named."""


async def inbox_page(session: AsyncSession, page: int, page_size: int) -> InboxPage:
    """One page of the waiting reports, the one due soonest first (those without a due time
    last), with the total: two statements."""
    total = int(
        await session.scalar(select(func.count()).select_from(Report).where(inbox_condition())) or 0
    )
    pages = max(1, -(-total // page_size))
    page = min(max(page, 0), pages - 1)
    statement = (
        select(Report)
        .where(inbox_condition())
        .order_by(col(Report.due_at).is_(None), col(Report.due_at), col(Report.id))
        .offset(page * page_size)
        .limit(page_size)
    )
    reports = tuple((await session.exec(statement)).all())
    ids = {r.department_id for r in reports if r.department_id}
    units: dict[int, str] = {}
    if ids:
        named = await session.exec(select(Department).where(col(Department.id).in_(ids)))
        units = {d.id: d.name for d in named.all() if d.id is not None}
    return InboxPage(reports, total, page, pages, units)
