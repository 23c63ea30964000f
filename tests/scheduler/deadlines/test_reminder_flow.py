"""Reminders, 催办 and 督办 through the bot, with the clock moved forward."""

from __future__ import annotations

from datetime import datetime, timedelta

from db.calendar.reminders import Ladder, Rung, ladder_for
from db.calendar.workdays import WorkCalendar
from scheduler.deadlines.job import run_deadline_scan
from tests.handlers.cases.test_case_loop import LEADER, NUMBER, join_leader, signed_report, stored
from tests.handlers.cases.test_casework import ADMIN, LIAISON
from tests.harness import Harness
from tests.scheduler.delivery.test_outbox import office, sender_of

__all__ = ["office"]


def count(bot: Harness, chat_id: int, fragment: str) -> int:
    return sum(1 for m in bot.api.sent_messages(chat_id) if fragment in m.get("text", ""))


async def scan_and_send(bot: Harness) -> None:
    await run_deadline_scan(bot.context)
    await sender_of(bot).drain_once()


async def rungs(bot: Harness) -> dict[tuple[Rung, int], datetime]:
    reports, _u, _e = await stored(bot)
    due = reports[NUMBER].due_at
    assert due is not None
    tz = bot.settings.tz
    return {(s.rung, s.offset): s.at for s in ladder_for(due, Ladder(), WorkCalendar(), tz)}


async def test_each_rung_once_to_the_right_people(office: Harness) -> None:
    bot = office
    await join_leader(bot)
    await signed_report(bot)
    await bot.say(ADMIN, "/start")
    at = await rungs(bot)

    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 0, "nothing is due yet"

    bot.clock.now = at[(Rung.remind, -1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 1
    assert count(bot, LEADER.id, "⏰") == 0

    # A restart between the scan and the sending loses nothing and repeats nothing.
    bot.clock.now = at[(Rung.remind, 0)] + timedelta(minutes=1)
    await run_deadline_scan(bot.context)
    await bot.crash()
    await bot.start()
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 2

    bot.clock.now = at[(Rung.urge, 1)] - timedelta(hours=2)  # 07:00: before the send window
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 0
    bot.clock.now = at[(Rung.urge, 1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 1
    # The leader and the office read one summary a day instead of a message per report.
    assert count(bot, LEADER.id, "催办") == 0
    assert count(bot, ADMIN.id, "催办") == 0
    assert count(bot, LEADER.id, "督办") == 1 and count(bot, ADMIN.id, "督办") == 1
    assert NUMBER in bot.api.sent_messages(LEADER.id)[-1]["text"]
    assert "/cases overdue" in bot.api.sent_messages(ADMIN.id)[-1]["text"]

    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, LEADER.id, "督办") == 2, "that day's summary, once"
    assert count(bot, ADMIN.id, "督办") == 2
    assert count(bot, LIAISON.id, "督办") == 0
    summary = bot.api.sent_messages(ADMIN.id)[-1]["text"]
    assert NUMBER in summary and "3" in summary
    assert count(bot, LIAISON.id, "⏰") == 2, "no reminder after the deadline"


async def test_an_answered_report_is_not_chased(office: Harness) -> None:
    bot = office
    await signed_report(bot)
    at = await rungs(bot)
    await bot.press(LIAISON, "答复")
    await bot.say(LIAISON, "已办结。")
    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 0 and count(bot, LIAISON.id, "⏰") == 0


async def test_the_office_robot_hears_the_supervision(office: Harness) -> None:
    from pydantic import SecretStr
    from sqlmodel import select

    from bot.runtime.settings import WecomSettings
    from db.engine import create_engine, session_factory
    from db.models import OutboxMessage

    bot = office
    bot.settings.wecom = WecomSettings(office_url=SecretStr("https://example.invalid/?key=k"))
    await signed_report(bot)
    at = await rungs(bot)
    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await run_deadline_scan(bot.context)
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        keys = [r.dedupe_key for r in (await session.exec(select(OutboxMessage))).all()]
    await engine.dispose()
    # The office's robot reads the office's daily summary, like the admins.
    robot = [k for k in keys if k.endswith(":wecom-office")]
    assert len(robot) == 1 and robot[0].startswith("overdue:")
