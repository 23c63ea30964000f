"""Due times counted over a year the calendar only guesses (2027 is not in the package): every
message that shows one marks it, and the admin who set it is told which dates to check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.calendar.reminders import Rung
from db.models import Submission
from scheduler.deadlines.job import run_deadline_scan
from tests.handlers.cases.test_case_loop import NUMBER, file_report
from tests.handlers.cases.test_casework import ADMIN as CASE_ADMIN
from tests.handlers.cases.test_casework import assign, case_bot, join_liaison
from tests.handlers.duties.test_duty_office import (
    ADMIN,
    EN,
    LIAISON,
    QUARTERLY_FORM,
    ZH,
    office_bot,
    submissions,
)
from tests.harness import Harness, texts
from tests.scheduler.delivery.test_outbox import sender_of

__all__ = ["case_bot", "office_bot"]

DEC_21 = datetime(2026, 12, 21, 2, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
ESTIMATED_EN = EN("{due} (estimated: holidays not yet entered)").format(due="")
ESTIMATED_ZH = ZH("{due} (estimated: holidays not yet entered)").format(due="")


async def test_a_duty_due_in_an_unknown_year_is_marked_and_the_admin_told(
    office_bot: Harness,
) -> None:
    bot = office_bot
    bot.clock.now = DEC_21
    answer = texts(await bot.say(ADMIN, QUARTERLY_FORM))
    # The fourth quarter's report is due 5 working days after 31 December: in January 2027.
    due = (await submissions(bot))["D011"].due_at.astimezone(bot.settings.tz)
    assert due.year == 2027
    assert ESTIMATED_EN.strip() in answer
    assert "/calendar" in answer and "2027-01-01" in answer and f"{due:%Y-%m-%d}" in answer
    notice = bot.api.last_message(LIAISON.id)["text"]
    assert ESTIMATED_ZH.strip() in notice, "the liaisons see the mark too"

    # The reminders of that due time carry it as well.
    bot.clock.now = due - timedelta(hours=10)  # the due day, after 09:00
    await run_deadline_scan(bot.context)
    await sender_of(bot).drain_once()
    reminder = bot.api.last_message(LIAISON.id)["text"]
    assert "⏰" in reminder and ESTIMATED_ZH.strip() in reminder


async def test_once_the_year_is_confirmed_nothing_is_marked(office_bot: Harness) -> None:
    bot = office_bot
    bot.clock.now = DEC_21
    await bot.say(ADMIN, "/calendar confirm 2027")
    answer = texts(await bot.say(ADMIN, QUARTERLY_FORM))
    assert "Duty #1 created" in answer
    assert ESTIMATED_EN.strip() not in answer and "/calendar" not in answer
    assert ESTIMATED_ZH.strip() not in bot.api.last_message(LIAISON.id)["text"]


async def test_assigning_over_new_year_names_the_dates_to_check(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    bot.clock.now = datetime(2026, 12, 31, 2, tzinfo=UTC)
    await file_report(bot)
    await assign(bot, NUMBER)
    shown = texts(bot.api.calls_since(0)) if hasattr(bot.api, "calls_since") else ""
    warning = bot.api.last_message(CASE_ADMIN.id)["text"]
    assert "/calendar" in warning and "2027-01-01" in warning, warning
    del shown


__all__ += ["Rung", "Submission"]
