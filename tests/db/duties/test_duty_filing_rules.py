"""The unit's side of duties in the database: the listed state, filing a report with its files,
and a self-check filed again after a return replacing only untouched items; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import WorkCalendar, end_of_day
from db.duties.filing import (
    DutyStatus,
    Filed,
    Finding,
    NewFile,
    duty_status,
    file_report,
    file_self_check,
    unit_duties,
    untouched_items,
)
from db.duties.filing_drafts import (
    FilingDraft,
    FindingDraft,
    delete_filing_draft,
    load_filing_draft,
    save_filing_draft,
)
from db.duties.obligations import AccessProblem, DutySpec, create_obligation, open_submissions
from db.duties.obligations import review_submission as review
from db.duties.rules import DueRule, SubmissionProblem
from db.engine import session_factory
from db.ledger.items import change_item
from db.ledger.rules import LedgerAction
from db.models import (
    Account,
    Category,
    Department,
    DepartmentKind,
    DuePeriod,
    DutyFile,
    DutyScope,
    LedgerUpdate,
    ObligationKind,
    RectificationItem,
    ReviewDecision,
    Submission,
    SubmissionState,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = datetime(2026, 3, 16, 2, 30, tzinfo=UTC)


async def _setup(session: AsyncSession, kind: ObligationKind) -> tuple[int, int, int]:
    """Two units, a liaison account and a duty; returns (police submission, tax unit, account)."""
    police = Department(code="D001", name="市公安局", kind=DepartmentKind.department)
    tax = Department(code="D002", name="市税务局", kind=DepartmentKind.department)
    account = Account(telegram_id=1, language="zh_CN")
    session.add_all([police, tax, account])
    await session.flush()
    rule = (
        DueRule(DuePeriod.quarter, days_after=5)
        if kind is ObligationKind.quarterly
        else DueRule(DuePeriod.once, due_on=date(2026, 3, 31))
    )
    spec = DutySpec(kind=kind, title="duty", scope=DutyScope.all, rule=rule, questions=("Q?",))
    duty = await create_obligation(session, spec, actor_account_id=None, now=MARCH, tz=SHANGHAI)
    assert not isinstance(duty, str)
    await open_submissions(session, MARCH, WorkCalendar({}), SHANGHAI)
    submission = (
        await session.exec(select(Submission).where(Submission.department_id == police.id))
    ).one()
    assert submission.id and tax.id and account.id
    return submission.id, tax.id, account.id


async def test_a_report_is_filed_with_its_files_once(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        sid, tax, account = await _setup(session, ObligationKind.quarterly)
        submission = await session.get(Submission, sid)
        assert submission is not None
        assert duty_status(submission, MARCH) is DutyStatus.due
        assert duty_status(submission, submission.due_at + timedelta(seconds=1)) is (
            DutyStatus.overdue
        )
        pdf = NewFile("document", "application/pdf", 10, "ab" * 32, "ab/abab", "r.pdf")

        async def file(units: list[int]) -> Filed | SubmissionProblem | AccessProblem:
            return await file_report(
                session,
                sid,
                department_ids=units,
                answers=[("Q?", "A.")],
                body="text",
                files=[pdf],
                actor_account_id=account,
                now=MARCH,
            )

        assert await file([tax]) is AccessProblem.not_yours
        filed = await file([submission.department_id])
        assert isinstance(filed, Filed) and filed.on_time and filed.round.number == 1
        assert json.loads(filed.round.answers) == [{"question": "Q?", "answer": "A."}]
        [kept] = (await session.exec(select(DutyFile))).all()
        assert kept.round_id == filed.round.id and kept.file_name == "r.pdf"
        assert await file([submission.department_id]) is SubmissionProblem.under_review
        listed = await unit_duties(session, submission.department_id)
        assert [s.id for s, _o in listed] == [sid]
        assert duty_status(listed[0][0], MARCH) is DutyStatus.submitted


async def test_refiling_a_self_check_replaces_only_untouched_items(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        sid, _tax, account = await _setup(session, ObligationKind.self_check)
        submission = await session.get(Submission, sid)
        assert submission is not None
        units = [submission.department_id]
        categories = list((await session.exec(select(Category).order_by(col(Category.id)))).all())
        first, second, third = (c.id or 0 for c in categories[:3])

        def found(category_id: int, text: str, day: date) -> Finding:
            return Finding(category_id, True, text, "measure", "张科长", day)

        filed = await file_self_check(
            session,
            sid,
            department_ids=units,
            findings=[
                found(first, "worked on", date(2026, 6, 30)),
                found(second, "untouched", date(2026, 12, 31)),
                Finding(third, False),
            ],
            actor_account_id=account,
            now=MARCH,
            tz=SHANGHAI,
        )
        assert isinstance(filed, Filed) and len(filed.added) == 2 and filed.kept == ()
        worked, untouched = filed.added
        assert untouched.due_at == end_of_day(date(2026, 12, 31), SHANGHAI)
        assert worked.id is not None and untouched.id is not None
        progress = await change_item(
            session,
            worked.id,
            LedgerAction.progress,
            "已约谈",
            actor_account_id=account,
            now=MARCH,
            department_ids=units,
        )
        assert isinstance(progress, LedgerUpdate)
        assert [i.id for i in await untouched_items(session, sid)] == [untouched.id]

        returned = await review(
            session,
            sid,
            ReviewDecision.returned,
            "请补充整改时限依据",
            version=(await session.get(Submission, sid)).version,  # type: ignore[union-attr]
            reviewer_account_id=None,
            now=MARCH,
            resubmit_days=5,
            calendar=WorkCalendar({}),
            tz=SHANGHAI,
        )
        assert isinstance(returned, Submission) and returned.state is SubmissionState.returned

        again = await file_self_check(
            session,
            sid,
            department_ids=units,
            findings=[found(third, "new in round two", date(2026, 9, 30))],
            actor_account_id=account,
            now=MARCH + timedelta(days=1),
            tz=SHANGHAI,
        )
        assert isinstance(again, Filed) and again.round.number == 2
        assert [i.id for i in again.kept] == [worked.id]
        items = (
            await session.exec(select(RectificationItem).order_by(col(RectificationItem.id)))
        ).all()
        assert [i.description for i in items] == ["worked on", "new in round two"]
        # The replaced item's history went with it (SQLite may give its id to the new item).
        history = (await session.exec(select(LedgerUpdate.item_id, LedgerUpdate.kind))).all()
        assert sorted((i, k.value) for i, k in history) == sorted(
            [(worked.id, "created"), (worked.id, "progress"), (items[1].id, "created")]
        )


async def test_a_filing_draft_round_trips_and_counts_revisions(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        sid, _tax, account = await _setup(session, ObligationKind.self_check)
        draft = FilingDraft(sid, findings=[FindingDraft(1, True, "d", "m", "o", "2026-12-31")])
        assert draft.findings[0].complete() and not FindingDraft(2, True, "d").complete()
        await save_filing_draft(session, account, draft, MARCH)
        await save_filing_draft(session, account, draft, MARCH)
        assert draft.rev == 0
        draft.body = "changed"
        await save_filing_draft(session, account, draft, MARCH)
        loaded = await load_filing_draft(session, account, sid)
        assert loaded is not None and loaded[0] == draft and draft.rev == 1
        assert await delete_filing_draft(session, account, sid) == draft
        assert await load_filing_draft(session, account, sid) is None
