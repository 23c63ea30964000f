"""However many reports pass their deadlines, the office reads one 督办 summary a day."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, func, select

from db.cases.rules import DueKind, OwnerKind
from db.engine import create_engine, session_factory
from db.models import Department, OutboxMessage, ReportState
from db.people.accounts import get_or_create_account
from scheduler.deadlines import reports
from scheduler.deadlines.job import run_deadline_scan
from tests.factories import file_report
from tests.handlers.cases.test_casework import ADMIN, LIAISON, join_liaison
from tests.harness import Harness
from tests.loop_gaps import loop_gaps
from tests.scheduler.delivery.test_outbox import office, sender_of

__all__ = ["office"]

FILED = datetime(2026, 3, 2, 1, tzinfo=UTC)
WEDNESDAY_0905 = datetime(2026, 4, 1, 1, 5, tzinfo=UTC)  # 09:05 in Shanghai, a working day
NUMBER = re.compile(r"ZF\d{4}-\d{6}")


async def seed(bot: Harness, *, office_owned: int, unit_owned: int, unit_due: datetime) -> None:
    """Reports filed on 2 March: some still waiting for the office's triage (long overdue),
    some with 市公安局 to sign for, due `unit_due`."""
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        police = (await session.exec(select(Department).where(Department.code == "D011"))).one()
        account, _ = await get_or_create_account(session, 7000002, "zh_CN")
        assert account.id is not None and police.id is not None
        for i in range(office_owned + unit_owned):
            report = await file_report(session, account.id, FILED + timedelta(minutes=i))
            if i < office_owned:  # the office's triage, long overdue
                report.owner_kind = OwnerKind.admins.value
                report.due_kind = DueKind.triage.value
                report.due_at = FILED + timedelta(days=3)
                session.add(report)
            else:
                report.state = ReportState.assigned
                report.owner_kind = OwnerKind.department.value
                report.owner_department_id = police.id
                report.handling_department_id = police.id
                report.due_kind = DueKind.sign.value
                report.due_at = unit_due
                report.assigned_at = unit_due - timedelta(days=2)
                session.add(report)
        await session.commit()
    await engine.dispose()


async def outbox_rows(bot: Harness) -> int:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = await session.scalar(select(func.count()).select_from(OutboxMessage))
    await engine.dispose()
    return int(found or 0)


async def scan_and_send(bot: Harness) -> None:
    await run_deadline_scan(bot.context)
    await sender_of(bot).drain_once()


def summaries(bot: Harness) -> list[str]:
    return [m["text"] for m in bot.api.sent_messages(ADMIN.id) if "督办" in m.get("text", "")]


async def test_the_office_reads_one_summary_a_day_listing_each_report_once(
    office: Harness,
) -> None:
    bot = office
    await bot.say(ADMIN, "/start")
    await seed(bot, office_owned=70, unit_owned=30, unit_due=datetime(2026, 3, 20, 9, tzinfo=UTC))
    bot.clock.now = WEDNESDAY_0905
    await scan_and_send(bot)
    [summary] = summaries(bot)
    listed = NUMBER.findall(summary)
    assert len(listed) == len(set(listed)) >= 10, "each report named once"
    more = re.search(r"(?:and|另有) (\d+)", summary)
    assert more is not None and len(listed) + int(more.group(1)) == 100
    assert "100" in summary.splitlines()[0] and "/cases overdue" in summary
    assert len(summary) <= 4096

    rows = await outbox_rows(bot)
    await scan_and_send(bot)
    bot.clock.now += timedelta(hours=3)
    await scan_and_send(bot)
    assert len(summaries(bot)) == 1, "a second scan the same day sends nothing"
    assert await outbox_rows(bot) == rows

    bot.clock.now = WEDNESDAY_0905 + timedelta(days=1)
    await scan_and_send(bot)
    assert len(summaries(bot)) == 2, "the next working day has its own"


async def test_before_nine_and_on_a_day_off_no_summary(office: Harness) -> None:
    bot = office
    await bot.say(ADMIN, "/start")
    await seed(bot, office_owned=3, unit_owned=0, unit_due=datetime(2026, 3, 20, tzinfo=UTC))
    bot.clock.now = WEDNESDAY_0905 - timedelta(minutes=10)
    await scan_and_send(bot)
    bot.clock.now = datetime(2026, 4, 4, 2, tzinfo=UTC)  # Saturday 10:00
    await scan_and_send(bot)
    assert summaries(bot) == []


async def test_a_scan_of_many_deadlines_leaves_the_loop_free(office: Harness) -> None:
    """Thousands of a unit's deadlines due the same morning: each liaison message is queued,
    and a coroutine scheduled meanwhile never waits 50 ms for its turn."""
    bot = office
    # Seeding takes more than 10 s on a loaded machine, when the job queue's own scan would
    # start and queue some of the same deadlines first: only the scan called here runs.
    assert bot.app is not None and bot.app.job_queue is not None
    for job in bot.app.job_queue.jobs():
        job.schedule_removal()
    await join_liaison(bot)
    monday = datetime(2026, 3, 30, 9, tzinfo=UTC)  # 17:00 Monday: due today, the 提醒 rung
    await seed(bot, office_owned=0, unit_owned=2000, unit_due=monday)
    bot.clock.now = datetime(2026, 3, 30, 1, 5, tzinfo=UTC)
    # Only the scan is measured here: the sender, which would start delivering its rows meanwhile
    # through the in-process double, is measured by bench/scale.py.
    await sender_of(bot).stop()
    async with loop_gaps(0.002) as gaps:
        added = await run_deadline_scan(bot.context)
    assert added >= 2000
    assert len(gaps) > 10 and max(gaps) < 0.05, f"longest wait {max(gaps) * 1000:.0f} ms"
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        keys = (
            await session.exec(
                select(OutboxMessage.dedupe_key).where(
                    col(OutboxMessage.dedupe_key).endswith(f":{LIAISON.id}")
                )
            )
        ).all()
    await engine.dispose()
    assert len(keys) == len(set(keys)) == 2000
    assert await run_deadline_scan(bot.context) == 0, "a second scan adds nothing"


async def test_report_deadlines_are_read_in_pages_without_losing_ties(
    office: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan reads report deadlines a page at a time along (due time, id): reports due at
    the same moment straddle the pages, and each is read once."""
    bot = office
    monday = datetime(2026, 3, 30, 9, tzinfo=UTC)
    await seed(bot, office_owned=0, unit_owned=23, unit_due=monday)
    await seed(bot, office_owned=0, unit_owned=5, unit_due=monday + timedelta(hours=1))
    monkeypatch.setattr(reports, "PAGE", 7)
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        deadlines = await reports.ReportDeadlines().open_deadlines(session, monday)
    await engine.dispose()
    subjects = [d.subject for d in deadlines]
    assert len(subjects) == len(set(subjects)) == 28
    assert [d.due_at for d in deadlines] == sorted(d.due_at for d in deadlines)
