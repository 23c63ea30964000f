"""/exclude through the bot: a ballot of a closed round leaves the frozen results (computed
again, by hand below), a rating is marked and a made bulletin kept; each is audited, undone on
demand, and bad input changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select

from bot.fakeapi import FakeBotApi
from db.appraisal.results import compute_round_results
from db.engine import create_engine, session_factory
from db.models import (
    Account,
    AppraisalRound,
    AuditEvent,
    Ballot,
    QuarterBulletin,
    RoundResult,
    ServiceRating,
)
from tests.db.anomalies.anomaly_rows import account, appraisal_round, ballot, unit
from tests.harness import Harness, make_settings, prepare_database, texts
from tests.scheduler.anomalies.test_anomaly_reports import (
    ADMIN,
    STRANGER,
    ZH_ADMIN,
    Rigged,
    rig,
)


@pytest.fixture
async def office(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id, ZH_ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    await harness.say(ADMIN, "/start")
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == []


async def closed_and_frozen(bot: Harness) -> Rigged:
    """The rigged round with its results frozen, as its close leaves it."""
    rigged = await rig(bot)
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        round_ = await session.get(AppraisalRound, rigged.round_id)
        assert round_ is not None
        await compute_round_results(session, round_, bot.clock.now)
        await session.commit()
    await engine.dispose()
    return rigged


async def read(bot: Harness, model: type, key: object) -> object:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        row = await session.get(model, key)
    await engine.dispose()
    return row


async def audit_events(bot: Harness) -> list[AuditEvent]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        rows = (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all()
    await engine.dispose()
    return list(rows)


async def admin_account_id(bot: Harness) -> int:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        account = (await session.exec(select(Account).where(Account.telegram_id == ADMIN.id))).one()
    await engine.dispose()
    assert account.id is not None
    return account.id


async def test_excluding_a_ballot_recomputes_the_frozen_result(office: Harness) -> None:
    bot = office
    rigged = await closed_and_frozen(bot)
    second_unit = rigged.ballots[1]  # the first rigged evaluator's [2, 2, 2, 2, 2]
    ballot = await read(bot, Ballot, second_unit)
    assert isinstance(ballot, Ballot)
    key = (rigged.round_id, ballot.department_id)
    frozen = await read(bot, RoundResult, key)
    # 2 2 2 2 2 thrice and 3 4 3 4 3: means 2.25 2.5 2.25 2.5 2.25, their mean 2.35 of 5 = 47.
    assert isinstance(frozen, RoundResult) and (frozen.score, frozen.ballots) == (47.0, 4)

    answer = texts(await bot.say(ADMIN, f"/exclude ballot {second_unit} 与另两名代表评分雷同"))
    # Left: 2 2 2 2 2 twice and 3 4 3 4 3: means 7/3 8/3 7/3 8/3 7/3, their mean 2.4667 = 49.33.
    assert f"Ballot {second_unit}" in answer and "is excluded" in answer
    assert "47.0 → 49.3 (4 → 3 ballots)" in answer
    result = await read(bot, RoundResult, key)
    assert isinstance(result, RoundResult) and (result.score, result.ballots) == (49.33, 3)
    ballot = await read(bot, Ballot, second_unit)
    assert isinstance(ballot, Ballot)
    assert ballot.excluded_reason == "与另两名代表评分雷同"
    assert ballot.excluded_by == await admin_account_id(bot) and ballot.excluded_at is not None
    [event] = await audit_events(bot)
    assert (event.action, event.subject) == ("ballot.exclude", f"ballot:{second_unit}")
    assert event.actor_account_id == await admin_account_id(bot)
    assert event.after is not None and "评分雷同" in event.after and "49.33" in event.after

    again = texts(await bot.say(ADMIN, f"/exclude ballot {second_unit} 再次剔除"))
    assert "already excluded" in again and "评分雷同" in again and "Nothing was changed" in again
    assert len(await audit_events(bot)) == 1

    back = texts(await bot.say(ADMIN, f"/exclude undo ballot {second_unit}"))
    assert "counts again" in back and "49.3 → 47.0 (3 → 4 ballots)" in back
    result = await read(bot, RoundResult, key)
    assert isinstance(result, RoundResult) and result.score == 47.0
    assert [e.action for e in await audit_events(bot)] == ["ballot.exclude", "ballot.include"]
    assert "is not excluded" in texts(await bot.say(ADMIN, f"/exclude undo ballot {second_unit}"))


async def test_excluding_a_rating_keeps_a_made_bulletin(office: Harness) -> None:
    bot = office
    rigged = await rig(bot)
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        session.add(QuarterBulletin(quarter="2026-Q1", data="{}"))
        await session.commit()
    await engine.dispose()
    rating_id = rigged.ratings[0]
    answer = texts(await bot.say(ADMIN, f"/exclude rating {rating_id} 同一时段新注册账号集中评价"))
    assert f"Service rating {rating_id}" in answer and "is excluded" in answer
    assert "counted when they are read" in answer
    assert "quarterly bulletin 2026-Q1 already made is not changed" in answer
    rating = await read(bot, ServiceRating, rating_id)
    assert (
        isinstance(rating, ServiceRating) and rating.excluded_reason == "同一时段新注册账号集中评价"
    )
    [event] = await audit_events(bot)
    assert (event.action, event.subject) == ("rating.exclude", f"rating:{rating_id}")
    march = texts(await bot.say(ADMIN, "/anomalies 2026-03"))
    assert "4 service ratings checked" in march, "an excluded rating is not judged again"


async def test_bad_input_changes_nothing(office: Harness) -> None:
    bot = office
    rigged = await closed_and_frozen(bot)
    first = rigged.ballots[0]
    assert "only the campaign office" in texts(
        await bot.say(STRANGER, f"/exclude ballot {first} x")
    )
    for wrong in (
        "/exclude",
        "/exclude ballot",
        "/exclude vote 3 x",
        f"/exclude ballot {first}x r",
    ):
        assert "Usage: /exclude" in texts(await bot.say(ADMIN, wrong)), wrong
    assert "Usage: /exclude" in texts(await bot.say(ADMIN, "/exclude ballot １２ 全角数字"))
    missing = texts(await bot.say(ADMIN, f"/exclude ballot {first}"))
    assert "Please give the reason" in missing and "Nothing was changed" in missing
    assert "Please give the reason" in texts(await bot.say(ADMIN, f"/exclude rating {first}   "))
    assert "does not exist" in texts(await bot.say(ADMIN, "/exclude ballot 99999 理由"))
    assert "does not exist" in texts(await bot.say(ADMIN, "/exclude rating 99999999999999 理由"))
    assert "does not exist" in texts(await bot.say(ADMIN, "/exclude undo rating 99999"))
    long = texts(await bot.say(ADMIN, f"/exclude ballot {first} " + "理" * 501))
    assert "too long" in long
    assert "is not excluded" in texts(
        await bot.say(ADMIN, f"/exclude undo rating {rigged.ratings[0]}")
    )
    ballot = await read(bot, Ballot, first)
    assert isinstance(ballot, Ballot) and ballot.excluded_at is None
    assert await audit_events(bot) == []


async def test_a_ballot_of_an_open_round_is_left_out_at_the_close(office: Harness) -> None:
    bot = office
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        window = await unit(session, "W89", "开放中的窗口")
        person = await account(session, 7600, bot.clock.now, evaluator=True)
        round_ = await appraisal_round(session, [window], bot.clock.now, closed=False)
        assert round_.id is not None
        ballot_id = await ballot(session, round_.id, window, person, [1] * 5, bot.clock.now)
        await session.commit()
    await engine.dispose()
    answer = texts(await bot.say(ADMIN, f"/exclude ballot {ballot_id} 测试"))
    assert "is excluded" in answer and "still open" in answer
    assert "computed again" not in answer
    shown = texts(await bot.say(ADMIN, f"/anomalies {round_.id}"))
    assert "still open" in shown and "0 ballots checked" in shown
