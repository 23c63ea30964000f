"""异常情况报告 through the bot: sent once per closed round and per month, in each admin's
language, never again after a restart; and on demand with /anomalies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import col, select

import scheduler.anomalies.report
from bot.fakeapi import FakeBotApi, FakeUser
from db.anomalies.load import month_findings
from db.engine import create_engine, session_factory
from db.models import AppraisalRound, OutboxMessage
from scheduler.anomalies.report import publish_anomaly_reports
from tests.db.anomalies.anomaly_rows import (
    account,
    appraisal_round,
    ballot,
    service_rating,
    unit,
)
from tests.harness import Harness, after_a_write, make_settings, prepare_database, texts
from tests.scheduler.delivery.test_outbox import sender_of

ADMIN = FakeUser(900, "Admin", language_code="en")
ZH_ADMIN = FakeUser(903, "作风办", language_code="zh-hans")
STRANGER = FakeUser(907, "Stranger", language_code="en")

CLOSED_AT = datetime(2026, 3, 15, 16, 0, tzinfo=UTC)  # midnight in Shanghai
APRIL_FIRST_0901 = datetime(2026, 4, 1, 1, 1, tzinfo=UTC)  # Wednesday 09:01 in Shanghai


@pytest.fixture
async def office(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id, ZH_ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    await harness.say(ADMIN, "/start")
    await harness.say(ZH_ADMIN, "/start")
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == []


@dataclass
class Rigged:
    round_id: int
    ballots: list[int]
    evaluators: list[int]
    ratings: list[int]


async def rig(bot: Harness) -> Rigged:
    """A closed round where three evaluators cast the same ballots, and five March ratings of
    one window from accounts that rated nothing else."""
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        units = [await unit(session, f"W8{n}", f"测试窗口{n}") for n in range(3)]
        long_ago = CLOSED_AT - timedelta(days=200)
        evaluators = [
            await account(session, 7000 + n, long_ago + timedelta(days=n), evaluator=True)
            for n in range(4)
        ]
        round_ = await appraisal_round(session, units, CLOSED_AT)
        assert round_.id is not None
        cast: list[int] = []
        for n, person in enumerate(evaluators):
            at = CLOSED_AT - timedelta(days=4 - n)
            honest = n == 3
            cast.append(await ballot(session, round_.id, units[0], person, [5] * 5, at))
            marks = [3, 4, 3, 4, 3] if honest else [2, 2, 2, 2, 2]
            cast.append(await ballot(session, round_.id, units[1], person, marks, at))
        raters = [
            await account(session, 7100 + n, CLOSED_AT - timedelta(days=100)) for n in range(5)
        ]
        ratings = [
            await service_rating(session, units[2], person, date(2026, 3, 2 + n))
            for n, person in enumerate(raters)
        ]
        await session.commit()
    await engine.dispose()
    return Rigged(round_.id, cast, evaluators, ratings)


async def anomaly_rows(bot: Harness) -> list[OutboxMessage]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        rows = (
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.dedupe_key).startswith("anomalies:"))
            )
        ).all()
    await engine.dispose()
    return list(rows)


async def test_a_closed_rounds_report_goes_to_each_admin_once(office: Harness) -> None:
    bot = office
    rigged = await rig(bot)
    assert bot.app is not None
    services = bot.app.bot_data["services"]

    assert await publish_anomaly_reports(services, bot.clock.now) == 2, "one per admin"
    assert await publish_anomaly_reports(services, bot.clock.now) == 0, "once"
    keys = sorted(r.dedupe_key for r in await anomaly_rows(bot))
    assert keys == [f"anomalies:round:{rigged.round_id}:{a.id}" for a in (ADMIN, ZH_ADMIN)]
    await sender_of(bot).drain_once()

    english = bot.api.sent_messages(ADMIN.id)[-1]["text"]
    assert "Anomaly report" in english and "Identical ballots" in english
    assert "3 evaluators" in english
    for ballot_id in rigged.ballots[:6]:
        assert str(ballot_id) in english
    assert "(ID 7000)" in english and "(ID 7003)" not in english, "the honest one is not named"
    assert "/exclude ballot" in english
    chinese = bot.api.sent_messages(ZH_ADMIN.id)[-1]["text"]
    assert "异常情况报告" in chinese and "评分雷同" in chinese and "/exclude" in chinese

    await bot.crash()
    await bot.start()
    assert bot.app is not None
    assert await publish_anomaly_reports(bot.app.bot_data["services"], bot.clock.now) == 0
    assert len(await anomaly_rows(bot)) == 2


async def test_last_months_ratings_are_reported_on_the_digest_morning(office: Harness) -> None:
    bot = office
    rigged = await rig(bot)
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    assert await publish_anomaly_reports(services, bot.clock.now) == 2  # the round's

    bot.clock.now = APRIL_FIRST_0901.replace(hour=0)  # 08:01: not yet
    assert await publish_anomaly_reports(services, bot.clock.now) == 0
    bot.clock.now = APRIL_FIRST_0901
    assert await publish_anomaly_reports(services, bot.clock.now) == 2
    assert await publish_anomaly_reports(services, bot.clock.now) == 0, "once"
    keys = {r.dedupe_key for r in await anomaly_rows(bot)}
    assert f"anomalies:ratings:2026-03:{ADMIN.id}" in keys
    await sender_of(bot).drain_once()
    english = bot.api.sent_messages(ADMIN.id)[-1]["text"]
    assert "service ratings of 2026-03" in english and "Single-unit raters" in english
    assert all(str(r) in english for r in rigged.ratings)
    assert "/exclude rating" in english
    # Down on the digest morning: caught up later in the month, still once.
    bot.clock.now = APRIL_FIRST_0901 + timedelta(days=30)
    assert await publish_anomaly_reports(services, bot.clock.now) == 0


async def test_nobody_waits_to_write_while_a_report_is_computed(
    office: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The month's findings are computed after the round's report is queued: with that still
    uncommitted, SQLite's one write lock was held all the while, and every step that writes
    waited."""
    bot = office
    await rig(bot)
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    computed: list[str] = []

    computing = after_a_write(services, month_findings, computed)
    monkeypatch.setattr(scheduler.anomalies.report, "month_findings", computing)
    bot.clock.now = APRIL_FIRST_0901
    assert await publish_anomaly_reports(services, bot.clock.now) == 4, "the round's and March's"
    assert computed == ["after the write"]


async def test_a_month_without_ratings_gets_no_report(office: Harness) -> None:
    bot = office
    assert bot.app is not None
    bot.clock.now = APRIL_FIRST_0901
    assert await publish_anomaly_reports(bot.app.bot_data["services"], bot.clock.now) == 0


async def test_admins_see_a_report_on_demand(office: Harness) -> None:
    bot = office
    rigged = await rig(bot)
    assert "only the campaign office" in texts(await bot.say(STRANGER, "/anomalies"))
    shown = texts(await bot.say(ADMIN, f"/anomalies {rigged.round_id}"))
    assert "Identical ballots" in shown and str(rigged.ballots[0]) in shown
    assert "Identical ballots" in texts(await bot.say(ADMIN, f"/anomalies round {rigged.round_id}"))
    assert "No appraisal round has the id 999" in texts(await bot.say(ADMIN, "/anomalies 999"))
    assert "Usage: /anomalies" in texts(await bot.say(ADMIN, "/anomalies March"))
    assert "has not started" in texts(await bot.say(ADMIN, "/anomalies 2027-01"))
    march = texts(await bot.say(ADMIN, "/anomalies 2026-03"))
    assert "Single-unit raters" in march and "5 service ratings checked" in march
    quiet = texts(await bot.say(ADMIN, "/anomalies 2026-02"))
    assert "0 service ratings checked.\nNo anomalies found." in quiet
    assert "异常情况报告" in texts(await bot.say(ZH_ADMIN, "/anomalies 2026-02"))
    assert not await anomaly_rows(bot), "on demand is no report sent"


async def test_the_scan_reads_the_outbox_by_exact_keys_only(office: Harness) -> None:
    """Every run reads what is still to report: no search of the outbox by key prefix (which no
    index answers) once per round ever closed; a reported round is marked instead."""
    bot = office
    rigged = await rig(bot)
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", record)
    try:
        assert await publish_anomaly_reports(services, bot.clock.now) == 2
        bot.clock.now = APRIL_FIRST_0901
        assert await publish_anomaly_reports(services, bot.clock.now) == 2  # March's ratings
        assert await publish_anomaly_reports(services, bot.clock.now) == 0
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", record)
    outbox_reads = [s for s in statements if "outbox" in s.lower() and "select" in s.lower()]
    assert outbox_reads, "the month's keys are looked up"
    assert not [s for s in outbox_reads if "like" in s.lower()], outbox_reads
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        round_ = await session.get(AppraisalRound, rigged.round_id)
        assert round_ is not None and round_.anomalies_queued_at is not None
    await engine.dispose()


async def test_a_bot_down_a_whole_month_catches_up_at_most_three_months(office: Harness) -> None:
    bot = office
    await rig(bot)  # March ratings
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    assert await publish_anomaly_reports(services, bot.clock.now) == 2  # the round's

    july = datetime(2026, 7, 20, 1, 1, tzinfo=UTC)
    assert await publish_anomaly_reports(services, july) == 0, "March is four months back"
    down_in_april = datetime(2026, 5, 20, 1, 1, tzinfo=UTC)
    assert await publish_anomaly_reports(services, down_in_april) == 2, "March, caught up"
    assert await publish_anomaly_reports(services, down_in_april) == 0, "once"
    keys = {r.dedupe_key for r in await anomaly_rows(bot)}
    assert {f"anomalies:ratings:2026-03:{a.id}" for a in (ADMIN, ZH_ADMIN)} <= keys
