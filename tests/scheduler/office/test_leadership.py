"""Two bot processes on one PostgreSQL database: one runs the jobs; when it dies, the other takes
over within the lease's time to live; a job wrapped `leader_only` runs only where it leads."""

from __future__ import annotations

from pathlib import Path

from bot.app import CATCH_UPS
from bot.fakeapi import FakeBotApi
from bot.runtime.services import BotContext, Services, services_of
from bot.runtime.settings import RateLimitSettings
from db.office.processes import RENEW_EVERY, TIME_TO_LIVE
from scheduler.office.leadership import keep_lease, leader_only
from tests.harness import Harness, make_settings, prepare_database, two_processes


def _services(harness: Harness) -> Services:
    assert harness.app is not None
    return services_of(harness.app)


async def test_the_jobs_move_to_the_other_process_when_the_leader_dies(
    tmp_path: Path, postgres_url: str
) -> None:
    first, second = await two_processes(tmp_path)
    clock = first.clock
    try:
        assert _services(first).leading and not _services(second).leading
        ran: list[str] = []

        async def job(context: BotContext) -> None:
            ran.append(context.services.process_id)

        for harness in (first, second):
            await leader_only(job)(harness.context)
        assert ran == [_services(first).process_id], "the job ran in the leader only"

        await first.crash()
        clock.advance(seconds=RENEW_EVERY.total_seconds())
        await keep_lease(_services(second))
        assert not _services(second).leading, "the dead leader's lease has not run out yet"
        clock.advance(seconds=TIME_TO_LIVE.total_seconds())
        await keep_lease(_services(second))
        assert _services(second).leading
        await leader_only(job)(second.context)
        assert ran[-1] == _services(second).process_id
    finally:
        if second.app is not None:
            await second.stop()


def _catch_ups(harness: Harness) -> list[str]:
    assert harness.app is not None and harness.app.job_queue is not None
    return sorted(
        job.name or "" for name in CATCH_UPS for job in harness.app.job_queue.get_jobs_by_name(name)
    )


async def test_the_process_that_takes_over_catches_up_the_daily_jobs(
    tmp_path: Path, postgres_url: str
) -> None:
    """The leader died just before the digest's hour: at that moment nobody ran it, and without
    a catch-up where the jobs moved the digest waited a day."""
    first, second = await two_processes(tmp_path)
    clock = first.clock
    try:
        assert _catch_ups(first) == sorted(CATCH_UPS), "it led from the start"
        assert _catch_ups(second) == [], "it does not lead: nothing to catch up here"
        await first.crash()
        clock.advance(seconds=(TIME_TO_LIVE + RENEW_EVERY).total_seconds())
        await keep_lease(_services(second))
        assert _services(second).leading
        assert _catch_ups(second) == sorted(CATCH_UPS)
        await keep_lease(_services(second))
        assert _catch_ups(second) == sorted(CATCH_UPS), "a renewal schedules nothing more"
        # Lost (another process led meanwhile) and taken again before the catch-ups ran.
        _services(second).leading = False
        await keep_lease(_services(second))
        assert _catch_ups(second) == sorted(CATCH_UPS), "one catch-up each, not two"
    finally:
        if second.app is not None:
            await second.stop()


async def test_a_leader_that_stops_hands_over_at_once(tmp_path: Path, postgres_url: str) -> None:
    first, second = await two_processes(tmp_path)
    clock = first.clock
    await first.stop()
    clock.advance(seconds=1)
    await keep_lease(_services(second))
    assert _services(second).leading
    await second.stop()
    assert first.api.violations == []


async def test_live_processes_share_telegrams_budget(tmp_path: Path, postgres_url: str) -> None:
    first, second = await two_processes(
        tmp_path, rate_limit=RateLimitSettings(overall_per_second=30, chat_interval_seconds=0)
    )
    clock = first.clock
    try:
        for harness in (first, second):
            await keep_lease(_services(harness))
            assert _services(harness).budget.overall_per_second == 15
        await second.stop()
        clock.advance(seconds=RENEW_EVERY.total_seconds())
        await keep_lease(_services(first))
        assert _services(first).budget.overall_per_second == 30, "alone again: all of it"
    finally:
        await first.stop()


async def test_a_leader_that_cannot_renew_stops_running_the_jobs(tmp_path: Path) -> None:
    """Its lease runs out in the database while it cannot reach it: another process may lead
    by then, so this one must not go on running the jobs on the strength of an old renewal."""
    settings = make_settings(tmp_path)
    await prepare_database(settings.database.url)
    bot = Harness(api=FakeBotApi(), settings=settings)
    await bot.start()
    try:
        services = _services(bot)
        ran: list[str] = []

        async def job(context: BotContext) -> None:
            ran.append("ran")

        await leader_only(job)(bot.context)
        assert ran == ["ran"]

        # No renewal from here on, as when each one fails: `leading` stays as it was.
        assert bot.app is not None and bot.app.job_queue is not None
        for renewal in bot.app.job_queue.get_jobs_by_name("scheduler_lease"):
            renewal.schedule_removal()
        for catch_up in CATCH_UPS:
            for pending in bot.app.job_queue.get_jobs_by_name(catch_up):
                pending.schedule_removal()
        bot.clock.advance(seconds=(TIME_TO_LIVE - RENEW_EVERY).total_seconds() - 1)
        await leader_only(job)(bot.context)
        assert ran == ["ran", "ran"], "still within its lease"
        bot.clock.advance(seconds=1)
        await leader_only(job)(bot.context)
        assert ran == ["ran", "ran"], "its lease may have passed to another process"
        assert services.leading, "it has not heard otherwise; the clock decides"
        await keep_lease(services)
        await leader_only(job)(bot.context)
        assert ran == ["ran", "ran", "ran"], "renewed: it leads again"
        assert _catch_ups(bot) == sorted(CATCH_UPS), "what it skipped meanwhile is caught up"
    finally:
        await bot.stop()
