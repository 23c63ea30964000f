"""Rating a service through the bot: a poster's deep link, one or two taps, a reason, and the
report it can become; and every way in that must be refused without changing anything."""

from __future__ import annotations

from sqlmodel import func, select

from bot.fakeapi import FakeUser
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import (
    Account,
    RatingLink,
    Report,
    Role,
    RoleGrant,
    ServiceRating,
    ServiceRatingValue,
)
from db.people.departments import department_by_code
from db.ratings.links import poster_token
from db.ratings.service import create_single_link
from tests.conftest import NOW
from tests.harness import Harness, labels, texts

ZH = gettext_for("zh_CN")
EN = gettext_for("en")
PERSON = FakeUser(701, "小王", language_code="zh-hans")
OTHER = FakeUser(702, "Other", language_code="en")


async def _poster(bot: Harness, code: str = "W002") -> str:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        unit = await department_by_code(session, code)
        assert unit is not None and unit.id is not None
        token = await poster_token(session, unit.id, NOW)
        await session.commit()
    await engine.dispose()
    return token


async def _single(bot: Harness, code: str = "W002") -> str:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        unit = await department_by_code(session, code)
        assert unit is not None and unit.id is not None
        _link, token = await create_single_link(
            session, department_id=unit.id, label="ZF2026-000001", created_by=None, now=NOW
        )
        await session.commit()
    await engine.dispose()
    return token


async def _ratings(bot: Harness) -> list[ServiceRating]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        rows = list((await session.exec(select(ServiceRating))).all())
    await engine.dispose()
    return rows


async def _switch_off(bot: Harness, code: str) -> None:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        unit = await department_by_code(session, code)
        assert unit is not None
        unit.active = False
        session.add(unit)
        await session.commit()
    await engine.dispose()


async def test_rate_give_a_reason_and_turn_it_into_a_report(bot: Harness) -> None:
    token = await _poster(bot)
    opened = await bot.say(PERSON, f"/start rate-{token}")
    assert "道里区行政服务中心" in texts(opened)
    assert labels(bot.api, opened[-1]) == ["满意", "基本满意", "不满意"]

    asked = await bot.press(PERSON, "不满意")
    assert "您对道里区行政服务中心的评价：不满意" in texts(asked)
    assert "态度不好" in labels(bot.api, asked[-1]) and "跳过" in labels(bot.api, asked[-1])
    [rating] = await _ratings(bot)
    assert rating.value is ServiceRatingValue.unsatisfied and rating.reason is None
    assert rating.day_key == "2026-03-16"

    offered = await bot.press(PERSON, "其他（请输入）")
    assert "200" in texts(offered)
    told = await bot.say(PERSON, "窗口中午提前下班，等了两个小时")
    assert "窗口中午提前下班" in texts(told)
    assert labels(bot.api, told[-1]) == ["转为举报"]
    [rating] = await _ratings(bot)
    assert rating.reason == "窗口中午提前下班，等了两个小时"

    report_flow = await bot.press(PERSON, "转为举报")
    assert "道里区行政服务中心" in texts(report_flow)
    # The report flow asks its first question, the category; the unit is not asked for.
    await bot.press(PERSON, "执行力弱")
    described = await bot.say(PERSON, "窗口工作人员中午提前下班，群众等了两个小时无人办理。")
    assert ZH("Skip") in labels(bot.api, described[-1]), "the unit was not asked: time and place"
    await bot.press(PERSON, ZH("Skip"))
    await bot.press(PERSON, ZH("Done"))
    await bot.press(PERSON, ZH("Anonymous"))
    filed = texts(await bot.press(PERSON, ZH("Submit")))
    assert "ZF2026-" in filed

    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        report = (await session.exec(select(Report))).one()
        unit = await department_by_code(session, "W002")
        assert unit is not None and report.department_id == unit.id
        stored = await session.get(ServiceRating, rating.id)
        assert stored is not None and stored.report_id == report.id
    await engine.dispose()


async def test_a_reason_from_the_list_and_a_second_rating_the_same_day(bot: Harness) -> None:
    token = await _poster(bot)
    await bot.say(OTHER, f"/start rate-{token}")
    await bot.press(OTHER, "Unsatisfied")
    told = await bot.press(OTHER, "Improper fees")
    assert "Improper fees" in texts(told)
    [rating] = await _ratings(bot)
    assert rating.reason == "乱收费", "stored in Chinese, as the office reads it"

    again = texts(await bot.say(OTHER, f"/start rate-{token}"))
    assert again == EN(
        "You have already rated the service of {unit} today; one rating a day counts. You "
        "can rate it again from {date}. Nothing was recorded."
    ).format(unit="道里区行政服务中心", date="2026-03-17")
    assert len(await _ratings(bot)) == 1

    bot.clock.advance(days=1)
    tomorrow = await bot.say(OTHER, f"/start rate-{token}")
    assert labels(bot.api, tomorrow[-1]) == ["Satisfied", "Basically satisfied", "Unsatisfied"]
    thanks = texts(await bot.press(OTHER, "Satisfied"))
    assert EN("Thank you! Your rating was recorded.") in thanks
    assert len(await _ratings(bot)) == 2


async def test_forged_unknown_and_closed_links_change_nothing(bot: Harness) -> None:
    token = await _poster(bot)
    unknown = texts(await bot.say(OTHER, "/start rate-AAAAAAAAAAAAAAAAAAAAAAAA"))
    assert unknown == EN(
        "This rating link is not valid. Please scan the QR code on the poster again, or ask the "
        "service window for a new link. Nothing was recorded."
    )
    # A rating button naming another link than the one opened (or none) is refused.
    await bot.say(OTHER, f"/start rate-{token}")
    await bot.press_data(OTHER, "svr:999:satisfied")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    await bot.press_data(OTHER, "svr:1:bogus")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    await bot.press_data(OTHER, "svw:1:attitude")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    await bot.press_data(OTHER, "svx:1")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    assert await _ratings(bot) == []

    await _switch_off(bot, "W002")
    closed = texts(await bot.say(OTHER, f"/start rate-{token}"))
    assert closed == EN(
        "This unit no longer takes service ratings in the bot. Nothing was recorded."
    )
    assert await _ratings(bot) == []


async def test_another_persons_rating_cannot_be_reasoned_or_reported(bot: Harness) -> None:
    token = await _poster(bot)
    await bot.say(PERSON, f"/start rate-{token}")
    await bot.press(PERSON, "不满意")
    await bot.press(PERSON, "态度不好")
    [rating] = await _ratings(bot)
    await bot.say(OTHER, "/start")
    await bot.press_data(OTHER, f"svw:{rating.id}:fees")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    await bot.press_data(OTHER, f"svx:{rating.id}")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    [rating] = await _ratings(bot)
    assert rating.reason == "态度不好" and rating.report_id is None


async def test_a_single_use_link_counts_once(bot: Harness) -> None:
    token = await _single(bot)
    opened = texts(await bot.say(PERSON, f"/start rate-{token}"))
    assert "ZF2026-000001" in opened
    await bot.press(PERSON, "满意")
    used = texts(await bot.say(OTHER, f"/start rate-{token}"))
    assert used == EN(
        "This rating link has already been used: a link for one service counts once. Nothing "
        "was recorded."
    )
    [rating] = await _ratings(bot)
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        link = (await session.exec(select(RatingLink).where(RatingLink.label.is_not(None)))).one()  # type: ignore[union-attr]
        assert rating.day_key == f"link:{link.id}" and link.used_by_account_id == rating.account_id
    await engine.dispose()


async def test_two_hundred_presses_in_a_minute_make_one_rating(bot: Harness) -> None:
    token = await _poster(bot)
    opened = await bot.say(PERSON, f"/start rate-{token}")
    message = opened[-1]
    data = dict((label, d) for row in bot.api.buttons(message) for label, d in row)["满意"]
    for _ in range(200):
        await bot.press_data(PERSON, data, message)
        bot.clock.advance(seconds=0.25)
    assert len(await _ratings(bot)) == 1
    answers = [c.params.get("text") for c in bot.api.calls if c.method == "answerCallbackQuery"]
    assert len(answers) == 200 and answers.count(ZH("This button is no longer valid.")) == 199
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        count = (await session.exec(select(func.count()).select_from(ServiceRating))).one()
    await engine.dispose()
    assert count == 1


async def test_a_report_begun_after_other_gets_its_own_answers(bot: Harness) -> None:
    """After 不满意 → 其他（请输入） the rating waits for a typed reason; /report, even days
    later, ends that wait, so the report's description is the report's, not the reason."""
    token = await _poster(bot)
    await bot.say(PERSON, f"/start rate-{token}")
    await bot.press(PERSON, "不满意")
    await bot.press(PERSON, "其他（请输入）")
    bot.clock.advance(days=3)
    await bot.say(PERSON, "/report")
    await bot.press(PERSON, "执行力弱")
    await bot.say(PERSON, "道里区")
    await bot.press(PERSON, "道里区行政服务中心")
    described = await bot.say(PERSON, "窗口工作人员中午提前下班，群众等了两个小时无人办理。")
    assert ZH("Skip") in labels(bot.api, described[-1]), "the report asks for time and place"
    [rating] = await _ratings(bot)
    assert rating.reason is None, "the description did not become the rating's reason"


async def test_a_units_liaison_is_told_politely_they_cannot_rate_it(bot: Harness) -> None:
    token = await _poster(bot)
    await bot.say(PERSON, "/start")
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        unit = await department_by_code(session, "W002")
        account = (await session.exec(select(Account).where(Account.telegram_id == 701))).one()
        assert unit is not None and unit.id and account.id
        session.add(RoleGrant(account_id=account.id, role=Role.liaison, department_id=unit.id))
        await session.commit()
    await engine.dispose()
    refused = texts(await bot.say(PERSON, f"/start rate-{token}"))
    assert refused == ZH(
        "Sorry, the liaisons and leaders of a unit cannot rate its service themselves: the "
        "ratings are for the people it serves. Nothing was recorded."
    )
    assert refused.startswith("抱歉") and "本次未记录" in refused
    assert await _ratings(bot) == []
