"""After downtime, one rung at a time and never a stale one: through the bot, with the clock
moved over days the bot did not run."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from db.calendar.reminders import Rung
from db.delivery.outbox import SkipReason, counts
from db.engine import create_engine, session_factory
from db.models import OutboxMessage
from tests.handlers.cases.test_case_loop import LEADER, join_leader, signed_report
from tests.handlers.cases.test_casework import ADMIN, LIAISON
from tests.harness import Harness
from tests.scheduler.deadlines.test_reminder_flow import count, rungs, scan_and_send
from tests.scheduler.delivery.test_outbox import office, sender_of

__all__ = ["office"]


async def skipped_rows(bot: Harness) -> dict[str, str | None]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        rows = (
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.skipped_at).is_not(None))
            )
        ).all()
    await engine.dispose()
    return {row.dedupe_key: row.skip_reason for row in rows}


async def down_until(bot: Harness, moment_after: timedelta, rung: tuple[Rung, int]) -> None:
    """Kill the bot, let the days pass, start it again a little after `rung`'s moment."""
    at = await rungs(bot)
    await bot.crash()
    bot.clock.now = at[rung] + moment_after
    await bot.start()


async def prepared(bot: Harness) -> None:
    await join_leader(bot)
    await signed_report(bot)
    await bot.say(ADMIN, "/start")


async def test_down_one_day_only_the_due_day_reminder(office: Harness) -> None:
    bot = office
    await prepared(bot)
    await down_until(bot, timedelta(minutes=5), (Rung.remind, 0))
    for _ in range(3):
        await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 1, "one reminder, not the missed one as well"
    skipped = await skipped_rows(bot)
    assert [k for k in skipped if k.startswith("remind:") and ":-1:" in k]
    assert set(skipped.values()) == {SkipReason.passed_over.value}

    at = await rungs(bot)
    bot.clock.now = at[(Rung.urge, 1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 1, "the next rung still comes on its day"
    assert count(bot, LIAISON.id, "⏰") == 1, "and the passed-over reminder never"


async def test_down_two_days_the_urge_alone(office: Harness) -> None:
    bot = office
    await prepared(bot)
    await down_until(bot, timedelta(minutes=5), (Rung.urge, 1))
    for _ in range(3):
        await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 0, "a reminder after its deadline is worthless"
    assert count(bot, LIAISON.id, "催办") == 1
    # The leader reads that day's summary rather than a copy of each 催办.
    assert count(bot, LEADER.id, "催办") == 0 and count(bot, LEADER.id, "督办") == 1
    at = await rungs(bot)
    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LEADER.id, "督办") == 2 and count(bot, ADMIN.id, "督办") == 2


async def test_down_five_days_the_supervision_alone(office: Harness) -> None:
    bot = office
    await prepared(bot)
    await down_until(bot, timedelta(hours=5), (Rung.supervise, 3))  # a Friday, 14:00
    for _ in range(3):
        await scan_and_send(bot)
    assert count(bot, LEADER.id, "督办") == 1 and count(bot, ADMIN.id, "督办") == 1
    assert count(bot, LIAISON.id, "催办") == 0 and count(bot, LEADER.id, "催办") == 0
    assert count(bot, LIAISON.id, "⏰") == 0
    skipped = await skipped_rows(bot)
    assert {k.split(":")[0] for k in skipped} == {"urge"}, "the 催办 was passed over"
    bot.clock.now += timedelta(days=3)  # Monday
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 0, "and stays passed over"


async def test_a_reminder_held_by_quiet_hours_past_its_deadline_is_dropped(
    office: Harness,
) -> None:
    bot = office
    await prepared(bot)
    at = await rungs(bot)
    # Back at 19:00 on the due day: the reminder is queued but the send window has closed.
    await down_until(bot, timedelta(hours=10), (Rung.remind, 0))
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "⏰") == 0, "held by quiet hours"

    bot.clock.now = at[(Rung.urge, 1)] - timedelta(minutes=20)  # 08:40: the window is open
    result = await sender_of(bot).drain_once()
    assert result.skipped == 1 and result.sent == 0
    assert count(bot, LIAISON.id, "⏰") == 0, "never delivered after its deadline"
    skipped = await skipped_rows(bot)
    assert {k.split(":")[3]: why for k, why in skipped.items()} == {
        "+0": SkipReason.expired.value,
        "-1": SkipReason.passed_over.value,  # the bot was down on the day before, too
    }

    bot.clock.now = at[(Rung.urge, 1)] + timedelta(minutes=1)
    await scan_and_send(bot)
    assert count(bot, LIAISON.id, "催办") == 1, "the escalation replaces it"
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        figures = await counts(session)
    await engine.dispose()
    assert figures.skipped == 2 and figures.in_doubt == 0
