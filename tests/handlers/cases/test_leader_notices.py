"""A unit's leaders hear of their unit's reports when one is assigned and when one is closed."""

from __future__ import annotations

from datetime import timedelta

from bot.runtime.i18n import gettext_for
from scheduler.cases.unrated import close_unrated_reports
from tests.handlers.cases.test_case_loop import (
    CITIZEN,
    LEADER,
    NUMBER,
    SECRETS,
    file_report,
    join_leader,
    signed_report,
    stored,
)
from tests.handlers.cases.test_casework import ADMIN, LIAISON, assign, case_bot, join_liaison
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, texts
from tests.scheduler.delivery.test_outbox import sender_of

__all__ = ["case_bot"]

ZH = gettext_for("zh_CN")
ASSIGNED = ZH(
    "For your information: report <b>{number}</b> ({category}) was assigned to {unit}; its "
    "liaisons must sign for it by {due}."
).split("<b>")[0]
CLOSED_HEAD = "已办结"


def told(bot: Harness, chat_id: int, fragment: str) -> list[str]:
    return [m["text"] for m in bot.api.sent_messages(chat_id) if fragment in m.get("text", "")]


async def test_the_leader_hears_of_the_assignment_once_and_without_the_reporter(
    case_bot: Harness,
) -> None:
    bot = case_bot
    await join_leader(bot)
    await join_liaison(bot)
    await file_report(bot)
    await assign(bot, NUMBER)
    [notice] = told(bot, LEADER.id, ASSIGNED)
    assert NUMBER in notice and "市公安局" in notice
    assert not any(secret in notice for secret in SECRETS)
    assert "户政窗口" not in notice, "the description stays with the liaisons"
    assert len(told(bot, LIAISON.id, NUMBER)) == 1, "the liaison gets the liaison's notice only"


async def test_a_leader_who_is_also_the_liaison_gets_one_message(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    answer = texts(await bot.say(ADMIN, "/invite leader D011"))
    match = LINK.search(answer)
    assert match, answer
    await bot.say(LIAISON, f"/start {match.group(1)}")
    await file_report(bot)
    await assign(bot, NUMBER)
    assert len(told(bot, LIAISON.id, NUMBER)) == 1
    assert not told(bot, LIAISON.id, ASSIGNED)


async def test_closing_is_told_by_rating_and_by_the_rating_time_running_out(
    case_bot: Harness,
) -> None:
    bot = case_bot
    await join_leader(bot)
    await signed_report(bot)
    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "经核实，当事人已调离窗口岗位。")
    await bot.press(CITIZEN, ZH("Satisfied"))
    await bot.press(CITIZEN, ZH("Rate without a comment"))
    [closed] = told(bot, LEADER.id, CLOSED_HEAD)
    assert NUMBER in closed and ZH("the reporter rated the answer") in closed

    # A second report, answered and never rated: the job closes it and the leader hears.
    await file_report(bot)
    second = "ZF2026-000002"
    await assign(bot, second)
    await bot.press(LIAISON, ZH("Sign"))
    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "已答复。")
    reports, _units, _events = await stored(bot)
    due = reports[second].due_at
    assert due is not None
    bot.clock.now = due + timedelta(hours=1)
    assert await close_unrated_reports(bot.context) == [second]
    for _ in range(4):  # the next morning in the send window (after a weekend, if need be)
        bot.clock.now = (bot.clock.now + timedelta(days=1)).replace(hour=2)
        await sender_of(bot).drain_once()
    unrated = told(bot, LEADER.id, second)
    assert len(unrated) == 2, "assigned, then closed"
    assert ZH("the reporter did not rate the answer in time") in unrated[-1]


async def test_the_notices_can_be_switched_off(case_bot: Harness) -> None:
    bot = case_bot
    bot.settings.notices.leaders_on_assign = False
    bot.settings.notices.leaders_on_close = False
    await join_leader(bot)
    await signed_report(bot)
    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "已答复。")
    await bot.press(CITIZEN, ZH("Satisfied"))
    await bot.press(CITIZEN, ZH("Rate without a comment"))
    assert not told(bot, LEADER.id, NUMBER)
