"""The rounds' job: reminders two working days before the close and on the last day to those who
have not finished, the close with its results to the admins; idempotent, and after downtime."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.fakeapi import FakeUser
from db.models import AppraisalRound, OutboxMessage, RoundResult, RoundState
from scheduler.appraisal.rounds import run_rounds_job
from tests.handlers.appraisal.test_ballot_flow import TWO, rate
from tests.handlers.appraisal.test_groups_flow import join_group
from tests.handlers.appraisal.test_round_office import (
    BOSS,
    DEPUTY,
    INVESTOR,
    ZH,
    evaluators,
    office,
    rows,
)
from tests.handlers.people.test_roles_flow import ADMIN
from tests.harness import Harness, labels, texts
from tests.scheduler.delivery.test_outbox import sender_of

__all__ = ["office"]

# The round of TWO closes at the end of Friday 2026-03-20 (Shanghai); it is opened Monday.
WEDNESDAY_0830 = datetime(2026, 3, 18, 0, 30, tzinfo=UTC)
WEDNESDAY_0930 = datetime(2026, 3, 18, 1, 30, tzinfo=UTC)
FRIDAY_0930 = datetime(2026, 3, 20, 1, 30, tzinfo=UTC)
SATURDAY_0001 = datetime(2026, 3, 20, 16, 1, tzinfo=UTC)


async def keys(bot: Harness, prefix: str) -> list[str]:
    return sorted(
        r.dedupe_key for r in await rows(bot, OutboxMessage) if r.dedupe_key.startswith(prefix)
    )


async def finish(bot: Harness) -> None:
    """The investor rates every unit: no reminder for them."""
    await bot.press(INVESTOR, "Start rating")
    await bot.press(INVESTOR, "Rate next: 市发改委")
    await rate(bot, INVESTOR, ("4", "4"))
    await rate(bot, INVESTOR, ("3", "5"))
    await rate(bot, INVESTOR, ("5", "5"))


async def test_reminders_then_the_close(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, TWO)
    await finish(bot)
    accounts = {r.chat_id: r for r in await rows(bot, OutboxMessage)}
    assert INVESTOR.id in accounts and BOSS.id in accounts

    assert await run_rounds_job(bot.context) == 0, "Monday: no reminder yet"
    bot.clock.now = WEDNESDAY_0830
    assert await run_rounds_job(bot.context) == 0, "before reminders.at"
    bot.clock.now = WEDNESDAY_0930
    assert await run_rounds_job(bot.context) == 1
    assert await run_rounds_job(bot.context) == 0, "a re-run queues nothing"
    [early] = await keys(bot, "round:1:remind:")
    assert early.startswith("round:1:remind:early:")
    [reminder] = [r for r in await rows(bot, OutboxMessage) if r.dedupe_key == early]
    assert reminder.chat_id == BOSS.id and reminder.expires_at is not None
    assert "2026年第1季度百家企业评政风" in reminder.text and "0" in reminder.text
    assert bot.api.buttons(bot.api.sent_messages(BOSS.id)[-1])[0][0][0] == ZH("Continue rating")

    bot.clock.now = FRIDAY_0930
    assert await run_rounds_job(bot.context) == 1
    assert len(await keys(bot, "round:1:remind:last:")) == 1
    assert await run_rounds_job(bot.context) == 0

    # The reminder's button leads back into the ballot.
    await bot.press(BOSS, ZH("Continue rating"))
    await bot.press(BOSS, ZH("Rate next: {unit}").format(unit="市发改委"))
    assert "市发改委" in texts([bot.api.last_message(BOSS.id)])

    bot.clock.now = SATURDAY_0001
    assert await run_rounds_job(bot.context) == 1
    [round_] = await rows(bot, AppraisalRound)
    assert round_.state is RoundState.closed and round_.closed_at == SATURDAY_0001
    assert len(await rows(bot, RoundResult)) == 3
    assert await keys(bot, "round:1:results:") == [f"round:1:results:{ADMIN.id}"]
    # Past midnight the admins' message waits in the outbox for the end of quiet hours.
    [result] = [r for r in await rows(bot, OutboxMessage) if r.dedupe_key.endswith(f":{ADMIN.id}")]
    assert "市公安局: 100.0 (1 ballots)" in result.text
    assert "外商代表: 1 of 1 evaluators rated, 3 ballots, 0 units" in result.text
    assert await run_rounds_job(bot.context) == 0, "closed once"
    assert len(await keys(bot, "round:1:results:")) == 1
    await bot.press(BOSS, "5")
    assert ZH(
        "This appraisal round is closed; ballots can no longer be cast or changed. Nothing was "
        "changed."
    ) in texts([bot.api.last_message(BOSS.id)])


async def test_after_downtime_only_the_last_reminder_then_the_close(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, TWO)
    await bot.stop()
    bot.clock.now = FRIDAY_0930
    await bot.start()
    assert await run_rounds_job(bot.context) == 2
    assert [k.split(":")[3] for k in await keys(bot, "round:1:remind:")] == ["last", "last"]
    await bot.stop()
    bot.clock.now = datetime(2026, 3, 23, 2, 0, tzinfo=UTC)
    await bot.start()
    assert await run_rounds_job(bot.context) == 1
    [round_] = await rows(bot, AppraisalRound)
    assert round_.state is RoundState.closed
    results = await rows(bot, RoundResult)
    assert all(r.ballots == 0 and r.score is None for r in results)


async def test_an_early_close_by_an_admin_leaves_the_job_nothing(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, TWO)
    await bot.say(ADMIN, "/round close 1")
    bot.clock.now = SATURDAY_0001
    assert await run_rounds_job(bot.context) == 0
    assert len(await keys(bot, "round:1:results:")) == 1
    assert await keys(bot, "round:1:remind:") == []


async def test_late_joiners_are_asked_once(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, TWO)
    assert len(await keys(bot, "round:1:ask:")) == 2
    late = FakeUser(944, "Late", language_code="en")
    await join_group(bot, late, "QY")
    await bot.say(ADMIN, f"/groups move {DEPUTY.id} WS")
    assert await run_rounds_job(bot.context) == 2
    assert len(await keys(bot, "round:1:ask:")) == 4
    assert await run_rounds_job(bot.context) == 0
    await sender_of(bot).drain_once()
    assert "Start rating" in labels(bot.api, bot.api.sent_messages(late.id)[-1])
    await bot.press(late, "Start rating")
    assert "you rated 0 of 3 units" in texts([bot.api.last_message(late.id)])
