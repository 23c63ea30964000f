"""/calendar: the office fills the years the packaged calendar does not know."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from bot.fakeapi import FakeUser
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import CalendarOverride, CalendarYear
from handlers.office.calendar import parse_day
from tests.handlers.cases.test_case_loop import NUMBER, file_report
from tests.handlers.cases.test_casework import ADMIN, assign, case_bot
from tests.harness import Harness, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
WARNING = "⚠ This due time rests on a guessed calendar"


def test_dates_are_parsed_strictly() -> None:
    assert parse_day("2027-01-01") == date(2027, 1, 1)
    assert parse_day("2027/2/7") == date(2027, 2, 7)
    assert parse_day("20271001") == date(2027, 10, 1)
    for bad in ("2027-02-30", "tomorrow", "27-01-01", "2027-13-01", ""):
        assert parse_day(bad) is None


async def _stored(bot: Harness) -> tuple[dict[date, bool], set[int]]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        days = {o.day: o.working for o in (await session.exec(select(CalendarOverride))).all()}
        years = set((await session.exec(select(CalendarYear.year))).all())
    await engine.dispose()
    return days, years


async def test_admins_enter_holidays_and_confirm_a_year(case_bot: Harness) -> None:
    bot = case_bot
    stranger = FakeUser(905, "Stranger", language_code="en")
    refused = texts(await bot.say(stranger, "/calendar off 2027-01-01"))
    assert "only the campaign office" in refused
    assert await _stored(bot) == ({}, set())

    status = texts(await bot.say(ADMIN, "/calendar"))
    assert "2026: " + EN("official holidays known") in status
    assert "2027: ⚠" in status

    await bot.say(ADMIN, "/calendar off 2027-01-01 元旦")
    await bot.say(ADMIN, "/calendar work 2027/2/7 调休")
    await bot.say(ADMIN, "/calendar off 2027-01-02")
    cleared = texts(await bot.say(ADMIN, "/calendar clear 2027-01-02"))
    assert "2027-01-02" in cleared
    bad = texts(await bot.say(ADMIN, "/calendar off 2027-02-30"))
    assert EN("I did not understand that date or action.\n\n{usage}").split("\n")[0] in bad
    too_long = texts(await bot.say(ADMIN, "/calendar off 2027-01-03 " + "长" * 101))
    assert "100" in too_long
    days, years = await _stored(bot)
    assert days == {date(2027, 1, 1): False, date(2027, 2, 7): True}
    assert years == set()

    await bot.say(ADMIN, "/calendar confirm 2027")
    status = texts(await bot.say(ADMIN, "/calendar"))
    assert "2027: " + EN("entered by the office and confirmed") in status
    assert "2027-01-01" in status and "元旦" in status
    assert (await _stored(bot))[1] == {2027}


async def test_the_office_is_warned_of_a_guessed_deadline(case_bot: Harness) -> None:
    bot = case_bot
    bot.clock.now = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)
    await file_report(bot)
    await assign(bot, NUMBER)
    assert WARNING in texts(bot.api.sent_messages(ADMIN.id)[-1:])

    await bot.say(ADMIN, "/calendar confirm 2027")
    await file_report(bot)
    await assign(bot, "ZF2026-000002")
    assert WARNING not in bot.api.sent_messages(ADMIN.id)[-1]["text"]
