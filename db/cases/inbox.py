"""The office's inbox: the reports waiting for the campaign office to triage, and what the office
may do with each.

"In the inbox" is written once, as data (`WAITING`), and both the list (`inbox_reports`, SQL)
and the check of a pressed button (`in_inbox`, Python) are made from it, so the two can never
disagree about a report.
"""

from __future__ import annotations

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.cases.rules import OwnerKind
from db.models import Report, ReportState

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


async def inbox_reports(session: AsyncSession, limit: int) -> list[Report]:
    """The waiting reports, the one due soonest first (those without a due time last)."""
    statement = (
        select(Report)
        .where(inbox_condition())
        .order_by(col(Report.due_at).is_(None), col(Report.due_at), col(Report.id))
        .limit(limit)
    )
    return list((await session.exec(statement)).all())
