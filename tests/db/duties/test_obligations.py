"""Duties in the database: opening submissions per period and unit, filing and review rounds,
edits that apply to future periods only, and the ledger's history; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import WorkCalendar
from db.duties.obligations import (
    AccessProblem,
    DutyProblem,
    DutySpec,
    EditResult,
    create_obligation,
    edit_obligation,
    file_submission,
    open_submissions,
    review_submission,
    rounds_of,
    scope_unit_ids,
)
from db.duties.rules import DueRule, SubmissionProblem
from db.engine import session_factory
from db.ledger.items import ItemAccess, NewItem, add_item, change_item, history_of
from db.ledger.rules import LedgerAction, LedgerProblem
from db.models import (
    Department,
    DepartmentKind,
    DuePeriod,
    DutyScope,
    LedgerSource,
    LedgerState,
    LedgerUpdateKind,
    ObligationKind,
    ReviewDecision,
    Submission,
    SubmissionState,
)
from db.office.campaigns import current_phase, init_campaign, phases_of

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The package knows 2026 only; the office entered New Year's Day 2027 (`/calendar off`).
CALENDAR = WorkCalendar({date(2027, 1, 1): False})
NOV = datetime(2026, 11, 22, 2, tzinfo=UTC)  # a Sunday morning in Shanghai


async def _units(session: AsyncSession) -> list[int]:
    units = [
        Department(
            code="D001", name="市公安局", kind=DepartmentKind.department, dept_class="执法监督"
        ),
        Department(
            code="D002", name="市税务局", kind=DepartmentKind.department, dept_class="经济管理"
        ),
        Department(code="W001", name="市政务服务中心窗口", kind=DepartmentKind.window),
        Department(code="D003", name="已撤销单位", kind=DepartmentKind.department, active=False),
    ]
    session.add_all(units)
    await session.flush()
    return [u.id for u in units if u.id is not None]


QUARTERLY = DutySpec(
    kind=ObligationKind.quarterly,
    title="季度工作报告",
    scope=DutyScope.all,
    rule=DueRule(DuePeriod.quarter, days_after=5),
    questions=("本季度开展了哪些工作?", "发现了哪些问题?"),
)


async def test_a_quarterly_duty_opens_one_submission_per_unit(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        police, tax, _window, _gone = await _units(session)
        duty = await create_obligation(
            session, QUARTERLY, actor_account_id=None, now=NOV, tz=SHANGHAI
        )
        assert not isinstance(duty, DutyProblem)
        assert await open_submissions(session, NOV, CALENDAR, SHANGHAI) == 2
        assert await open_submissions(session, NOV, CALENDAR, SHANGHAI) == 0
        rows = (await session.exec(select(Submission).order_by(col(Submission.id)))).all()
        assert [(r.department_id, r.period) for r in rows] == [
            (police, "2026-Q4"),
            (tax, "2026-Q4"),
        ]
        # 5 working days after 31 December 2026 (New Year's Day closed): 8 January 2027.
        assert rows[0].due_at.astimezone(SHANGHAI).date() == date(2027, 1, 8)
        # Three months on, the first quarter of 2027 opens too.
        later = NOV + timedelta(days=45)
        assert await open_submissions(session, later, CALENDAR, SHANGHAI) == 2


async def test_one_scan_opens_duties_of_every_scope_for_the_units_each_covers(
    any_engine: AsyncEngine,
) -> None:
    """The scan opens all duties in one batch: each still reaches exactly the units its scope
    names (class, listed window, deactivated unit left out)."""
    async with session_factory(any_engine)() as session:
        police, tax, window, gone = await _units(session)
        specs = [
            QUARTERLY,
            DutySpec(
                kind=ObligationKind.quarterly,
                title="执法监督类报告",
                scope=DutyScope.dept_class,
                scope_class="执法监督",
                rule=DueRule(DuePeriod.month, days_after=3),
            ),
            DutySpec(
                kind=ObligationKind.plan,
                title="窗口方案",
                scope=DutyScope.listed,
                unit_ids=(window, gone),
                rule=DueRule(DuePeriod.once, due_on=date(2026, 12, 31)),
            ),
        ]
        made = [
            await create_obligation(session, spec, actor_account_id=None, now=NOV, tz=SHANGHAI)
            for spec in specs
        ]
        assert not any(isinstance(m, DutyProblem) for m in made)
        assert await open_submissions(session, NOV, CALENDAR, SHANGHAI) == 4
        rows = (await session.exec(select(Submission).order_by(col(Submission.id)))).all()
        assert {(r.department_id, r.period) for r in rows} == {
            (police, "2026-Q4"),
            (tax, "2026-Q4"),
            (police, "2026-11"),
            (window, "once"),
        }
        assert await open_submissions(session, NOV, CALENDAR, SHANGHAI) == 0


async def test_rounds_and_permissions(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        police, tax, *_ = await _units(session)
        duty = await create_obligation(
            session, QUARTERLY, actor_account_id=None, now=NOV, tz=SHANGHAI
        )
        assert not isinstance(duty, DutyProblem)
        await open_submissions(session, NOV, CALENDAR, SHANGHAI)
        sub = (
            await session.exec(select(Submission).where(Submission.department_id == police))
        ).one()
        assert sub.id is not None
        refused = await file_submission(
            session,
            sub.id,
            department_ids=[tax],
            answers=[],
            body="x",
            actor_account_id=None,
            now=NOV,
        )
        assert refused is AccessProblem.not_yours
        first = await file_submission(
            session,
            sub.id,
            department_ids=[police],
            answers=["开展了培训", "无"],
            body=None,
            actor_account_id=None,
            now=NOV,
        )
        assert not isinstance(first, (AccessProblem, SubmissionProblem))
        returned = await review_submission(
            session,
            sub.id,
            ReviewDecision.returned,
            "请补充数据",
            version=sub.version,
            reviewer_account_id=None,
            now=NOV,
            resubmit_days=3,
            calendar=CALENDAR,
            tz=SHANGHAI,
        )
        assert isinstance(returned, Submission)
        assert returned.state is SubmissionState.returned
        # 3 working days after Sunday 22 November: Wednesday 25th.
        assert returned.resubmit_due_at is not None
        assert returned.resubmit_due_at.astimezone(SHANGHAI).date() == date(2026, 11, 25)
        await file_submission(
            session,
            sub.id,
            department_ids=[police],
            answers=["开展了培训", "窗口态度问题"],
            body="补充",
            actor_account_id=None,
            now=NOV + timedelta(days=1),
        )
        accepted = await review_submission(
            session,
            sub.id,
            ReviewDecision.accepted,
            None,
            version=sub.version,
            reviewer_account_id=None,
            now=NOV,
            resubmit_days=3,
            calendar=CALENDAR,
            tz=SHANGHAI,
        )
        assert isinstance(accepted, Submission) and accepted.state is SubmissionState.accepted
        again = await file_submission(
            session,
            sub.id,
            department_ids=[police],
            answers=[],
            body="x",
            actor_account_id=None,
            now=NOV,
        )
        assert again is SubmissionProblem.accepted
        rounds = await rounds_of(session, sub.id)
        assert [(r.number, r.decision, r.comment) for r in rounds] == [
            (1, ReviewDecision.returned, "请补充数据"),
            (2, ReviewDecision.accepted, None),
        ]


async def test_edits_apply_to_future_periods_once_anything_was_filed(
    any_engine: AsyncEngine,
) -> None:
    async with session_factory(any_engine)() as session:
        police, tax, *_ = await _units(session)
        duty = await create_obligation(
            session, QUARTERLY, actor_account_id=None, now=NOV, tz=SHANGHAI
        )
        assert not isinstance(duty, DutyProblem) and duty.id is not None
        await open_submissions(session, NOV, CALENDAR, SHANGHAI)
        longer = DutySpec(
            kind=ObligationKind.quarterly,
            title="季度工作报告",
            scope=DutyScope.all,
            rule=DueRule(DuePeriod.quarter, days_after=10),
        )
        # Nothing filed yet: the open submissions move with the duty.
        edited = await edit_obligation(
            session, duty.id, longer, now=NOV, calendar=CALENDAR, tz=SHANGHAI
        )
        assert isinstance(edited, EditResult) and not edited.future_only
        sub = (
            await session.exec(select(Submission).where(Submission.department_id == police))
        ).one()
        assert sub.due_at.astimezone(SHANGHAI).date() == date(2027, 1, 15)
        assert sub.questions == "[]"
        assert sub.id is not None
        await file_submission(
            session,
            sub.id,
            department_ids=[police],
            answers=[],
            body="已报送",
            actor_account_id=None,
            now=NOV,
        )
        edited = await edit_obligation(
            session, duty.id, QUARTERLY, now=NOV, calendar=CALENDAR, tz=SHANGHAI
        )
        assert isinstance(edited, EditResult) and edited.future_only
        await session.refresh(sub)
        assert sub.due_at.astimezone(SHANGHAI).date() == date(2027, 1, 15)
        # The next quarter follows the edited rule.
        await open_submissions(session, NOV + timedelta(days=45), CALENDAR, SHANGHAI)
        q1 = (
            await session.exec(
                select(Submission).where(
                    Submission.department_id == tax, Submission.period == "2027-Q1"
                )
            )
        ).one()
        assert len(q1.questions) > 2


async def test_duty_problems(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        await _units(session)
        nobody = DutySpec(
            kind=ObligationKind.plan,
            title="工作方案",
            scope=DutyScope.dept_class,
            scope_class="党政综合",
            rule=DueRule(DuePeriod.once, due_on=date(2026, 12, 20)),
        )
        assert (
            await create_obligation(session, nobody, actor_account_id=None, now=NOV, tz=SHANGHAI)
            is DutyProblem.no_units
        )
        past = DutySpec(
            kind=ObligationKind.plan,
            title="工作方案",
            scope=DutyScope.all,
            rule=DueRule(DuePeriod.once, due_on=date(2026, 4, 20)),
        )
        assert (
            await create_obligation(session, past, actor_account_id=None, now=NOV, tz=SHANGHAI)
            is DutyProblem.past_due
        )


async def test_ledger_history(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        police, tax, *_ = await _units(session)
        item = await add_item(
            session,
            NewItem(police, LedgerSource.inspection, "窗口人员脱岗", NOV + timedelta(days=10)),
            actor_account_id=None,
            now=NOV,
        )
        assert item.id is not None
        assert (
            await change_item(
                session,
                item.id,
                LedgerAction.done,
                "已整改",
                actor_account_id=None,
                now=NOV,
                department_ids=[tax],
            )
            is ItemAccess.not_yours
        )
        assert (
            await change_item(
                session,
                item.id,
                LedgerAction.confirm,
                None,
                actor_account_id=None,
                now=NOV,
                department_ids=[police],
            )
            is ItemAccess.not_yours
        )
        for action, note in ((LedgerAction.progress, "已约谈"), (LedgerAction.done, "已整改")):
            await change_item(
                session,
                item.id,
                action,
                note,
                actor_account_id=None,
                now=NOV,
                department_ids=[police],
            )
        assert (
            await change_item(
                session,
                item.id,
                LedgerAction.done,
                "再次",
                actor_account_id=None,
                now=NOV,
                department_ids=[police],
            )
            is LedgerProblem.not_open
        )
        await change_item(
            session,
            item.id,
            LedgerAction.confirm,
            None,
            actor_account_id=None,
            now=NOV,
            department_ids=None,
        )
        await session.refresh(item)
        assert item.state is LedgerState.confirmed
        kinds = [u.kind for u in await history_of(session, item.id)]
        assert kinds == [
            LedgerUpdateKind.created,
            LedgerUpdateKind.progress,
            LedgerUpdateKind.done,
            LedgerUpdateKind.confirmed,
        ]


async def test_campaign_template_and_current_phase(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        campaign = await init_campaign(session, "zhengfeng-2011", 2026)
        assert campaign is not None and campaign.id is not None
        assert await init_campaign(session, "zhengfeng-2011", 2026) == campaign
        assert await init_campaign(session, "nonsense", 2026) is None
        phases = await phases_of(session, campaign.id)
        assert [(p.name, p.starts_on, p.ends_on) for p in phases] == [
            ("启动和自查自纠", date(2026, 1, 1), date(2026, 2, 28)),
            ("集中整治", date(2026, 3, 1), date(2026, 9, 30)),
            ("巩固成果", date(2026, 10, 1), date(2026, 10, 31)),
            ("总结验收", date(2026, 11, 1), date(2026, 12, 31)),
        ]
        now = await current_phase(session, date(2026, 11, 22))
        assert now is not None and now.phase.name == "总结验收"
        assert await current_phase(session, date(2027, 1, 5)) is None


async def test_a_class_scope_reaches_the_organisations_of_that_class(
    any_engine: AsyncEngine,
) -> None:
    async with session_factory(any_engine)() as session:
        police, _tax, window, _gone = await _units(session)
        session.add(
            Department(
                code="K001",
                name="市公安局出入境窗口",
                kind=DepartmentKind.key_position,
                dept_class="执法监督",
            )
        )
        await session.flush()
        assert await scope_unit_ids(session, DutyScope.dept_class, "执法监督", []) == [police]
        # A list may name any unit, a window included.
        assert await scope_unit_ids(session, DutyScope.listed, None, [window]) == [window]
