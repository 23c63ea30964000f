"""The office's "remind now": every missing unit's liaisons, each at most once a day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.workdays import WorkCalendar
from db.delivery.outbox import enqueue
from db.duties.obligations import (
    DutyProblem,
    DutySpec,
    create_obligation,
    open_submissions,
    switch_off,
)
from db.duties.rules import DueRule
from db.duties.status import plan_reminders
from db.models import (
    Account,
    Department,
    DepartmentKind,
    DuePeriod,
    DutyScope,
    ObligationKind,
    Role,
)
from db.people.roles import grant_role

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARCH = datetime(2026, 3, 16, 2, tzinfo=UTC)
PLAN = DutySpec(
    kind=ObligationKind.plan,
    title="实施方案",
    scope=DutyScope.all,
    rule=DueRule(DuePeriod.once, due_on=date(2026, 3, 20)),
    questions=("主要措施?",),
)


async def test_remind_now_reaches_each_liaison_once_a_day(session: AsyncSession) -> None:
    police = Department(code="D001", name="市公安局", kind=DepartmentKind.department)
    tax = Department(code="D002", name="市税务局", kind=DepartmentKind.department)
    liaison = Account(telegram_id=5001, language="zh_CN")
    session.add_all([police, tax, liaison])
    await session.flush()
    assert liaison.id is not None
    await grant_role(session, liaison.id, Role.liaison, police.id, MARCH)
    duty = await create_obligation(session, PLAN, actor_account_id=None, now=MARCH, tz=SHANGHAI)
    assert not isinstance(duty, DutyProblem) and duty.id is not None
    await open_submissions(session, MARCH, WorkCalendar({}), SHANGHAI)
    late = MARCH + timedelta(days=7)  # both units missed the 20th
    today = late.astimezone(SHANGHAI).date()

    plan = await plan_reminders(session, duty.id, "once", late, today)
    assert [r.recipient.telegram_id for r in plan.reminders] == [5001]
    assert (plan.reminded, plan.already, plan.unreachable) == (1, 0, 1)

    for reminder in plan.reminders:
        await enqueue(session, key=reminder.key, chat_id=5001, text="提醒", now=late)
    again = await plan_reminders(session, duty.id, "once", late, today)
    assert (again.reminders, again.reminded, again.already, again.unreachable) == ([], 0, 1, 1)

    tomorrow = await plan_reminders(session, duty.id, "once", late, today + timedelta(days=1))
    assert len(tomorrow.reminders) == 1


async def test_switching_a_duty_off_dates_it(session: AsyncSession) -> None:
    session.add(Department(code="D001", name="市公安局", kind=DepartmentKind.department))
    await session.flush()
    duty = await create_obligation(session, PLAN, actor_account_id=None, now=MARCH, tz=SHANGHAI)
    assert not isinstance(duty, DutyProblem)
    later = MARCH + timedelta(days=1)
    await switch_off(session, duty, later)
    await session.commit()
    await session.refresh(duty)
    assert (duty.active, duty.updated_at) == (False, later)
