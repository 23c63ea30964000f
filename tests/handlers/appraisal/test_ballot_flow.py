"""An evaluator's ballot through the bot: invite, join, round, rate, change, close, results; and
every press the ballot refuses without changing anything."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.fakeapi import FakeUser
from bot.runtime import callbacks as cb
from db.engine import create_engine, session_factory
from db.models import Ballot, Department, RoundResult
from tests.handlers.appraisal.test_round_office import (
    BOSS,
    DEPUTY,
    FORM,
    INVESTOR,
    ZH,
    evaluators,
    office,
    rows,
)
from tests.handlers.people.test_roles_flow import ADMIN
from tests.harness import Harness, html_sent, labels, texts

__all__ = ["office"]

TWO = FORM + "\n评议项目：服务态度 总体满意"


async def unit_ids(bot: Harness) -> dict[str, int]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = {d.code: d.id or 0 for d in (await session.exec(select(Department))).all()}
    await engine.dispose()
    return found


async def ballots(bot: Harness) -> dict[tuple[int, int], Ballot]:
    return {(b.account_id, b.department_id): b for b in await rows(bot, Ballot)}


async def rate(
    bot: Harness, user: FakeUser, marks: tuple[str, ...], comment: str | None = None
) -> str:
    for value in marks:
        await bot.press(user, value)
    if comment is None:
        skip = "Skip" if user is INVESTOR else ZH("Skip")
        return texts(await bot.press(user, skip))
    return texts(await bot.say(user, comment))


async def test_rate_change_close_and_results(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, TWO)
    ids = await unit_ids(bot)

    overview = texts(await bot.press(INVESTOR, "Start rating"))
    assert "you rated 0 of 3 units" in overview
    first = texts(await bot.press(INVESTOR, "Rate next: 市发改委"))
    assert "市发改委" in first and "1/2 <b>服务态度</b>" in html_sent(bot.api, INVESTOR.id)
    assert labels(bot.api, bot.api.last_message(INVESTOR.id)) == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "Never dealt with this unit",
    ]
    await bot.press(INVESTOR, "4")
    assert "2/2" in texts([bot.api.last_message(INVESTOR.id)])
    saved = texts(await bot.press(INVESTOR, "5"))
    assert "服务态度 4 · 总体满意 5. Saved." in saved
    after_comment = texts(await bot.say(INVESTOR, "窗口<热情>"))
    assert "Comment saved." in after_comment and "市城管行政执法局" in after_comment
    skipped = texts(await bot.press(INVESTOR, "Never dealt with this unit"))
    assert "市公安局" in skipped and "✓ 市城管行政执法局: Never dealt with this unit" in skipped
    done = await rate(bot, INVESTOR, ("3", "3"))
    assert "You have rated all 3 units" in done

    stored = await ballots(bot)
    investor = {dept: b for (_account, dept), b in stored.items()}
    assert json.loads(investor[ids["D001"]].scores or "") == [4, 5]
    assert investor[ids["D001"]].comment == "窗口<热情>"
    assert investor[ids["D010"]].scores is None
    assert json.loads(investor[ids["D011"]].scores or "") == [3, 3]

    # Change a ballot: /rate_round lists the marks; the unit's button starts it again.
    listed = texts(await bot.say(INVESTOR, "/rate_round"))
    assert "you rated 3 of 3 units" in listed and "市发改委: 服务态度 4 · 总体满意 5" in listed
    again = texts(await bot.press(INVESTOR, "✓ 市发改委"))
    assert "Your ballot now: 服务态度 4 · 总体满意 5" in again
    await rate(bot, INVESTOR, ("2", "2"))
    changed = await ballots(bot)
    assert len(changed) == 3
    d001 = next(b for b in changed.values() if b.department_id == ids["D001"])
    assert json.loads(d001.scores or "") == [2, 2] and d001.comment == "窗口<热情>"

    # A second evaluator, in Chinese.
    await bot.press(BOSS, ZH("Start rating"))
    await bot.press(BOSS, ZH("Rate next: {unit}").format(unit="市发改委"))
    await rate(bot, BOSS, ("5", "5"))
    status = texts(await bot.say(ADMIN, "/round status 1"))
    assert "企业代表: 1 of 1 evaluators rated, 1 ballots, 0 units not dealt with" in status
    assert "外商代表: 1 of 1 evaluators rated, 2 ballots, 1 units not dealt with" in status

    await bot.say(ADMIN, "/round close 1")
    await bot.press_data(INVESTOR, cb.BALLOT_MARK.pack(1, ids["D011"], "5"))
    assert "This appraisal round is closed" in texts([bot.api.last_message(INVESTOR.id)])
    results = {r.department_id: r for r in await rows(bot, RoundResult)}
    # D001: (2+5)/2 = 3.5 on both dimensions = 70; D011: 3 and 3 = 60; D010 only skipped.
    assert (results[ids["D001"]].ballots, results[ids["D001"]].score) == (2, 70.0)
    assert (results[ids["D011"]].ballots, results[ids["D011"]].score) == (1, 60.0)
    assert (results[ids["D010"]].ballots, results[ids["D010"]].skipped) == (0, 1)
    assert results[ids["D010"]].score is None
    admin = texts(bot.api.sent_messages(ADMIN.id))
    assert "市发改委: 70.0 (2 ballots)" in admin and "市公安局: 60.0 (1 ballots)" in admin
    assert admin.index("市发改委: 70.0") < admin.index("市公安局: 60.0")
    assert len(await ballots(bot)) == 4


async def test_forged_and_stale_presses_change_nothing(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, TWO)
    ids = await unit_ids(bot)
    await bot.press(INVESTOR, "Start rating")

    for marks in ("6", "0", "446", "123", "4x", "9" * 40):
        await bot.press_data(INVESTOR, cb.BALLOT_MARK.pack(1, ids["D001"], marks))
        assert "not on this round's scale" in texts([bot.api.last_message(INVESTOR.id)])
    await bot.press_data(INVESTOR, cb.ROUND_UNIT.pack(1, ids["W001"]))
    assert "not rated in this round" in texts([bot.api.last_message(INVESTOR.id)])
    await bot.press_data(INVESTOR, cb.BALLOT_SKIP.pack(1, ids["W001"]))
    assert "not rated in this round" in texts([bot.api.last_message(INVESTOR.id)])
    await bot.press_data(INVESTOR, cb.ROUND_OPEN.pack(9))
    assert "not an evaluator of this appraisal round" in texts([bot.api.last_message(INVESTOR.id)])
    # The deputy's group is not in the round.
    await bot.press_data(DEPUTY, cb.BALLOT_MARK.pack(1, ids["D001"], "55"))
    assert ZH(
        "You are not (or no longer) an evaluator of this appraisal round. Nothing was changed."
    ) in texts([bot.api.last_message(DEPUTY.id)])
    assert ZH("There is no appraisal round open for you now.") in texts(
        await bot.say(DEPUTY, "/rate_round")
    )
    assert await ballots(bot) == {}

    # Removed mid-round: the buttons they still have no longer work.
    await bot.press(BOSS, ZH("Start rating"))
    await bot.press(BOSS, ZH("Rate next: {unit}").format(unit="市发改委"))
    await bot.press(BOSS, "4")
    await bot.say(ADMIN, f"/groups remove {BOSS.id}")
    await bot.press(BOSS, "4")
    assert ZH(
        "You are not (or no longer) an evaluator of this appraisal round. Nothing was changed."
    ) in texts([bot.api.last_message(BOSS.id)])
    assert await ballots(bot) == {}

    # After the closing time, before any job closed it.
    bot.clock.advance(days=5)
    await bot.press_data(INVESTOR, cb.BALLOT_MARK.pack(1, ids["D001"], "55"))
    assert "This appraisal round is closed" in texts([bot.api.last_message(INVESTOR.id)])
    assert await ballots(bot) == {}


async def test_a_round_of_a_hundred_units_still_fits_one_message(office: Harness) -> None:
    bot = office
    await evaluators(bot)
    codes = sorted((await unit_ids(bot)).keys())[:100]
    form = TWO.replace("单位：D001 D010 D011", "单位：" + " ".join(codes))
    assert "100 units" in texts(await bot.say(ADMIN, form))
    await bot.press(INVESTOR, "Start rating")
    overview = bot.api.last_message(INVESTOR.id)
    assert len(labels(bot.api, overview)) <= 91
    assert len(overview["text"]) <= 4096 and "you rated 0 of 100 units" in overview["text"]


async def test_a_comment_goes_to_the_ballot_while_a_report_waits_for_its_description(
    office: Harness,
) -> None:
    """The report flow is registered before the ballot and takes any text while it waits for a
    description: an evaluator who left a report half-written and then rates a unit had their
    comment taken as the report's description (review of issue 14, bug 1). Asking for the
    comment ends the waiting report step; the report's draft stays for /report."""
    bot = office
    await evaluators(bot)
    await bot.say(ADMIN, TWO)
    ids = await unit_ids(bot)
    await bot.say(INVESTOR, "/report")
    await bot.press(INVESTOR, "Passing the buck")
    await bot.say(INVESTOR, "公安")
    asked = texts(await bot.press(INVESTOR, "市公安局"))
    assert "describe" in asked.lower()

    overview = texts(await bot.press(INVESTOR, "Start rating"))
    assert "you rated 0 of 3 units" in overview, overview
    await bot.press(INVESTOR, "Rate next: 市发改委")
    comment = "窗口服务热情，办事效率很高，值得表扬。"
    answer = await rate(bot, INVESTOR, ("4", "5"), comment)
    assert "Comment saved." in answer
    investor = {d: b for (_a, d), b in (await ballots(bot)).items()}
    assert investor[ids["D001"]].comment == comment
    resumed = texts(await bot.say(INVESTOR, "/report"))
    assert "unfinished" in resumed.lower()
