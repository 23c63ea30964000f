"""The duties workbook's submission rows: each with the verdict of its last decided round."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from db.calendar.workdays import WorkCalendar
from db.duties.export import bounds, submission_rows
from db.duties.obligations import (
    DutyProblem,
    DutySpec,
    create_obligation,
    file_submission,
    open_submissions,
    review_submission,
)
from db.duties.rules import DueRule
from db.engine import session_factory
from db.models import (
    Department,
    DepartmentKind,
    DuePeriod,
    DutyScope,
    ObligationKind,
    ReviewDecision,
    Submission,
    SubmissionState,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar({})
NOV = datetime(2026, 11, 2, 2, tzinfo=UTC)


async def test_each_row_shows_its_last_decided_round(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        units = [
            Department(code=f"D00{n}", name=f"单位{n}", kind=DepartmentKind.department)
            for n in (1, 2, 3)
        ]
        session.add_all(units)
        await session.flush()
        spec = DutySpec(
            kind=ObligationKind.plan,
            title="工作方案",
            scope=DutyScope.all,
            rule=DueRule(DuePeriod.once, due_on=date(2026, 11, 20)),
        )
        made = await create_obligation(session, spec, actor_account_id=None, now=NOV, tz=SHANGHAI)
        assert not isinstance(made, DutyProblem)
        await open_submissions(session, NOV, CALENDAR, SHANGHAI)
        subs = (await session.exec(select(Submission).order_by(col(Submission.id)))).all()
        returned_then_refiled, accepted, _untouched = subs

        async def file(sub: Submission, at: datetime) -> None:
            assert sub.id is not None
            await file_submission(
                session,
                sub.id,
                department_ids=[sub.department_id],
                answers=[],
                body="方案",
                actor_account_id=None,
                now=at,
            )

        async def decide(sub: Submission, decision: ReviewDecision, comment: str | None) -> None:
            assert sub.id is not None
            await review_submission(
                session,
                sub.id,
                decision,
                comment,
                version=sub.version,
                reviewer_account_id=None,
                now=NOV + timedelta(days=2),
                resubmit_days=3,
                calendar=CALENDAR,
                tz=SHANGHAI,
            )

        await file(returned_then_refiled, NOV)
        await decide(returned_then_refiled, ReviewDecision.returned, "请补充措施")
        await file(returned_then_refiled, NOV + timedelta(days=3))  # round 2, not reviewed yet
        await file(accepted, NOV)
        await decide(accepted, ReviewDecision.accepted, None)

        start, end = bounds(date(2026, 11, 1), date(2026, 11, 30), SHANGHAI)
        rows = [row async for row in submission_rows(session, start, end)]
        assert [(r.unit_code, r.rounds, r.state, r.decision, r.comment) for r in rows] == [
            ("D001", 2, SubmissionState.submitted, ReviewDecision.returned, "请补充措施"),
            ("D002", 1, SubmissionState.accepted, ReviewDecision.accepted, None),
            ("D003", 0, SubmissionState.due, None, None),
        ]
