"""The duties' deadlines through the bot with the clock moved forward: a quarterly report whose
due day follows the National Day holidays, returns that start a new ladder, ledger items."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.calendar.reminders import Ladder, Rung, ladder_for
from db.calendar.workdays import WorkCalendar, end_of_day, local_date
from db.duties.obligations import DutySpec, create_obligation, file_submission, review_submission
from db.duties.rules import DueRule
from db.ledger.items import NewItem, add_item, change_item
from db.ledger.rules import LedgerAction
from db.models import (
    Department,
    DuePeriod,
    DutyScope,
    LedgerSource,
    ObligationKind,
    OutboxMessage,
    ReviewDecision,
    Submission,
)
from scheduler.deadlines.job import run_deadline_scan
from tests.handlers.cases.test_case_loop import LEADER, join_leader
from tests.handlers.cases.test_casework import ADMIN, LIAISON, join_liaison
from tests.harness import Harness
from tests.scheduler.deadlines.test_reminder_flow import count, scan_and_send
from tests.scheduler.delivery.test_outbox import office

__all__ = ["office"]

SEPTEMBER = datetime(2026, 9, 1, 2, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
QUARTERLY = DutySpec(
    kind=ObligationKind.quarterly,
    title="季度工作报告",
    scope=DutyScope.listed,
    rule=DueRule(DuePeriod.quarter, days_after=5),
)
KEY = re.compile(
    r"^((remind|urge|supervise):(submission|ledger)_\w+_due:[SL]\d+"
    r"|supervise:submission_group_O\d+_\d{4}-Q\d(_again)?):[+-]\d+:[\d-]+:"
)


@asynccontextmanager
async def db(bot: Harness) -> AsyncIterator[AsyncSession]:
    assert bot.app is not None
    async with bot.app.bot_data["services"].sessions() as session:
        yield session
        await session.commit()


async def police(session: AsyncSession) -> int:
    found = (await session.exec(select(Department.id).where(Department.code == "D011"))).one()
    assert found is not None
    return found


async def people(bot: Harness) -> None:
    await join_liaison(bot)
    await join_leader(bot)
    await bot.say(ADMIN, "/start")


async def quarterly_duty(bot: Harness) -> None:
    bot.clock.now = SEPTEMBER
    async with db(bot) as session:
        spec = DutySpec(**{**QUARTERLY.__dict__, "unit_ids": (await police(session),)})
        await create_obligation(
            session, spec, actor_account_id=None, now=bot.clock.now, tz=bot.settings.tz
        )


async def the_submission(bot: Harness) -> Submission:
    async with db(bot) as session:
        return (await session.exec(select(Submission))).one()


def rungs(due: datetime, bot: Harness) -> dict[tuple[Rung, int], datetime]:
    steps = ladder_for(due, Ladder(), WorkCalendar(), bot.settings.tz)
    return {(s.rung, s.offset): s.at for s in steps}


async def outbox_keys(bot: Harness) -> list[str]:
    async with db(bot) as session:
        return list((await session.exec(select(OutboxMessage.dedupe_key))).all())


async def test_a_quarterly_report_after_national_day_climbs_the_ladder_once(
    office: Harness,
) -> None:
    bot = office
    await people(bot)
    await quarterly_duty(bot)
    await scan_and_send(bot)  # the scan itself opens the third quarter's submission
    submission = await the_submission(bot)
    assert submission.period == "2026-Q3"
    tz = bot.settings.tz
    # 5 working days after 30 September: 8, 9, 10 (a make-up Saturday), 12 and 13 October.
    assert local_date(submission.due_at, tz) == date(2026, 10, 13)
    at = rungs(submission.due_at, bot)
    assert local_date(at[(Rung.remind, -1)], tz) == date(2026, 10, 12)
    assert local_date(at[(Rung.urge, 1)], tz) == date(2026, 10, 14)
    assert local_date(at[(Rung.supervise, 3)], tz) == date(2026, 10, 16)

    bot.clock.now = at[(Rung.remind, -1)] - timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 0, "nothing before the first rung"

    bot.clock.now = at[(Rung.remind, -1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 1
    reminder = bot.api.sent_messages(LIAISON.id)[-1]["text"]
    assert "季度工作报告" in reminder and "2026年第3季度" in reminder and "市公安局" in reminder
    assert "2026-10-13 23:59" in reminder
    assert count(bot, LEADER.id, "⏰") == 0

    # A restart between the scan and the sending neither loses nor repeats the rung.
    bot.clock.now = at[(Rung.remind, 0)] + timedelta(minutes=1)
    await run_deadline_scan(bot.context)
    await bot.crash()
    await bot.start()
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 2

    bot.clock.now = at[(Rung.urge, 1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 1
    assert count(bot, LEADER.id, "催办") == 1
    assert count(bot, ADMIN.id, "催办") == 0

    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await bot.crash()
    await bot.start()
    await scan_and_send(bot)
    assert count(bot, LEADER.id, "督办") == 1
    assert count(bot, ADMIN.id, "督办") == 1
    assert count(bot, LIAISON.id, "督办") == 0
    assert "已超期 3 个工作日" in bot.api.sent_messages(LEADER.id)[-1]["text"]
    assert "3 working days late" in bot.api.sent_messages(ADMIN.id)[-1]["text"]  # in English
    assert count(bot, LIAISON.id, "⏰") == 2, "no reminder after the deadline"

    keys = await outbox_keys(bot)
    assert keys and all(KEY.match(key) for key in keys), keys
    assert all(f":S{submission.id}:" in key or "_group_" in key for key in keys)
    assert [k for k in keys if "_group_" in k] == [
        f"supervise:submission_group_O{submission.obligation_id}_2026-Q3:+3:2026-10-13:{ADMIN.id}"
    ]


async def test_filing_stops_the_ladder_and_a_return_starts_a_new_one(office: Harness) -> None:
    bot = office
    await people(bot)
    await quarterly_duty(bot)
    await scan_and_send(bot)
    submission = await the_submission(bot)
    at = rungs(submission.due_at, bot)
    tz = bot.settings.tz

    bot.clock.now = at[(Rung.remind, -1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 1
    bot.clock.now += timedelta(hours=1)
    async with db(bot) as session:
        filed = await file_submission(
            session,
            submission.id or 0,
            department_ids=[await police(session)],
            answers=[],
            body="本季度工作情况。",
            actor_account_id=None,
            now=bot.clock.now,
        )
    assert not isinstance(filed, str)
    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 1, "filed: no reminder on the due day"
    assert count(bot, LIAISON.id, "催办") == 0 and count(bot, ADMIN.id, "督办") == 0

    # Returned on 16 October at 09:01: round 2 is owed 5 working days later (23 October).
    async with db(bot) as session:
        current = await session.get(Submission, submission.id)
        assert current is not None
        returned = await review_submission(
            session,
            current.id or 0,
            ReviewDecision.returned,
            "请补充整改数据。",
            version=current.version,
            reviewer_account_id=None,
            now=bot.clock.now,
            resubmit_days=bot.settings.duties.resubmit_days,
            calendar=WorkCalendar(),
            tz=tz,
        )
    assert isinstance(returned, Submission) and returned.resubmit_due_at is not None
    assert local_date(returned.resubmit_due_at, tz) == date(2026, 10, 23)
    again = rungs(returned.resubmit_due_at, bot)
    bot.clock.now = again[(Rung.remind, -1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 2
    assert "退回" in bot.api.sent_messages(LIAISON.id)[-1]["text"]
    bot.clock.now = again[(Rung.urge, 1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 1 and count(bot, LEADER.id, "催办") == 1

    # Filed again: the second ladder stops too.
    async with db(bot) as session:
        await file_submission(
            session,
            submission.id or 0,
            department_ids=[await police(session)],
            answers=[],
            body="已补充。",
            actor_account_id=None,
            now=bot.clock.now,
        )
    bot.clock.now = again[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, ADMIN.id, "督办") == 0 and count(bot, LIAISON.id, "催办") == 1
    keys = await outbox_keys(bot)
    assert any("submission_round2_due" in key and ":2026-10-23:" in key for key in keys)


async def test_an_open_ledger_item_is_chased_until_done(office: Harness) -> None:
    bot = office
    await people(bot)
    bot.clock.now = SEPTEMBER
    tz = bot.settings.tz
    description = "窗口服务<态度>冷漠，群众反映办事难。" * 10
    due = end_of_day(date(2026, 9, 15), tz)
    async with db(bot) as session:
        unit = await police(session)
        chased = await add_item(
            session,
            NewItem(unit, LedgerSource.self_check, description, due),
            actor_account_id=None,
            now=bot.clock.now,
        )
        finished = await add_item(
            session,
            NewItem(unit, LedgerSource.inspection, "公示栏信息过期", due),
            actor_account_id=None,
            now=bot.clock.now,
        )
    at = rungs(due, bot)
    bot.clock.now = at[(Rung.remind, -1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 2
    reminder = bot.api.sent_messages(LIAISON.id)[-2]["text"]
    assert f"L{chased.id}" in reminder and "市公安局" in reminder
    assert "窗口服务<态度>冷漠" in reminder and "…" in reminder, "escaped and cut"
    assert len(reminder) < 400

    async with db(bot) as session:
        for action in (LedgerAction.done, LedgerAction.confirm):
            await change_item(
                session,
                finished.id or 0,
                action,
                "已更新公示栏。",
                actor_account_id=None,
                now=bot.clock.now,
                department_ids=None if action is LedgerAction.confirm else [unit],
            )
    bot.clock.now = at[(Rung.urge, 1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 1, "only the open item"
    assert count(bot, LEADER.id, "催办") == 1
    assert f"L{chased.id}" in bot.api.sent_messages(LEADER.id)[-1]["text"]

    async with db(bot) as session:
        await change_item(
            session,
            chased.id or 0,
            LedgerAction.done,
            "已整改。",
            actor_account_id=None,
            now=bot.clock.now,
            department_ids=[unit],
        )
    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, ADMIN.id, "督办") == 0 and count(bot, LEADER.id, "督办") == 0
    keys = await outbox_keys(bot)
    assert keys and all(KEY.match(key) for key in keys), keys
    assert not any(f":L{finished.id}:" in key and key.startswith("urge") for key in keys)
