"""季度通报 through the bot: sent once on the first working day after the quarter, previewed with
/bulletin, published with /publish."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

import scheduler.office.bulletin
from bot.documents.bulletin_files import keep_files, render_workbook
from bot.fakeapi import FakeUser
from db.bulletin.bulletin import Bulletin, stored_bulletin
from db.bulletin.quarters import Quarter
from db.calendar.workdays import WorkCalendar
from db.engine import create_engine, session_factory
from db.models import AuditEvent
from scheduler.office.bulletin import send_bulletin, sending_day
from tests.handlers.cases.test_case_loop import signed_report
from tests.handlers.cases.test_casework import ADMIN, LIAISON
from tests.harness import Harness, after_a_write, texts
from tests.scheduler.delivery.test_outbox import office, sender_of
from tests.scheduler.office.test_digest_job import methods_to

__all__ = ["office"]

APRIL_FIRST_0931 = datetime(2026, 4, 1, 1, 31, tzinfo=UTC)  # Wednesday 09:31 in Shanghai


def test_the_sending_day_is_the_first_working_day_after_the_quarter() -> None:
    calendar = WorkCalendar()
    assert sending_day(Quarter(2026, 1), calendar) == date(2026, 4, 1)
    assert sending_day(Quarter(2026, 3), calendar) > date(2026, 10, 7)  # National Day week
    # 1–3 January are the New Year holiday and Sunday 4 January a make-up working day (调休).
    assert sending_day(Quarter(2025, 4), calendar) == date(2026, 1, 4)


async def _stored(bot: Harness, quarter: str) -> Bulletin | None:
    engine = create_engine(bot.settings.database.url)
    try:
        async with session_factory(engine)() as session:
            row = await stored_bulletin(session, quarter)
            return None if row is None else Bulletin.from_json(row.data)
    finally:
        await engine.dispose()


async def test_the_quarterly_bulletin_goes_out_once(office: Harness) -> None:
    bot = office
    await signed_report(bot)  # 市公安局 receives and signs a report in March: Q1
    await bot.say(ADMIN, "/start")
    assert bot.app is not None
    services = bot.app.bot_data["services"]

    bot.clock.now = datetime(2026, 3, 31, 8, tzinfo=UTC)  # still the quarter
    assert await send_bulletin(services, bot.clock.now) == 0
    bot.clock.now = APRIL_FIRST_0931.replace(minute=0)  # 09:00: before send_at 09:30
    assert await send_bulletin(services, bot.clock.now) == 0
    assert await _stored(bot, "2026-Q1") is None, "nothing frozen before the day"
    bot.clock.now = APRIL_FIRST_0931
    assert await send_bulletin(services, bot.clock.now) > 0
    assert await send_bulletin(services, bot.clock.now) == 0, "once"
    for _ in range(3):
        await sender_of(bot).drain_once()

    assert methods_to(bot, ADMIN.id)[-3:] == ["sendPhoto", "sendDocument", "sendMessage"]
    office_text = bot.api.sent_messages(ADMIN.id)[-1]["text"]
    assert "2026" in office_text and "1. 市公安局" in office_text
    unit_text = bot.api.sent_messages(LIAISON.id)[-1]["text"]
    assert "市公安局" in unit_text and "第1名" in unit_text, unit_text
    frozen = await _stored(bot, "2026-Q1")
    assert frozen is not None and frozen.ranked[0].name == "市公安局"

    # A restart later that day, or the next day's run: nothing new.
    before = len(bot.api.calls)
    await bot.crash()
    await bot.start()
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    bot.clock.now = APRIL_FIRST_0931.replace(day=2)
    assert await send_bulletin(services, bot.clock.now) == 0
    await sender_of(bot).drain_once()
    assert not [c for c in bot.api.calls[before:] if c.method in ("sendPhoto", "sendDocument")]


async def test_a_bot_down_on_the_day_sends_it_when_back(office: Harness) -> None:
    bot = office
    await signed_report(bot)
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    bot.clock.now = datetime(2026, 4, 9, 2, tzinfo=UTC)  # a week late
    assert await send_bulletin(services, bot.clock.now) > 0
    assert await send_bulletin(services, bot.clock.now) == 0


async def test_nobody_waits_to_write_while_the_files_are_drawn(
    office: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing the chart and the workbook takes seconds: with the freeze still uncommitted,
    SQLite's one write lock was held all that time, and every person's step that writes waited."""
    bot = office
    await signed_report(bot)
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    drawn: list[str] = []

    drawing = after_a_write(services, keep_files, drawn)
    monkeypatch.setattr(scheduler.office.bulletin, "keep_files", drawing)
    assert await send_bulletin(services, APRIL_FIRST_0931) > 0
    assert drawn == ["after the write"]


async def test_admins_preview_and_publish_a_quarter(office: Harness) -> None:
    bot = office
    await signed_report(bot)
    bot.clock.now = APRIL_FIRST_0931.replace(day=2)
    stranger = FakeUser(907, "Stranger", language_code="en")
    assert "only the campaign office" in texts(await bot.say(stranger, "/bulletin"))
    assert "only the campaign office" in texts(await bot.say(stranger, "/publish 2026-Q1"))
    assert "YYYY-Qn" in texts(await bot.say(ADMIN, "/bulletin 2026-Q5"))
    assert "has not started" in texts(await bot.say(ADMIN, "/bulletin 2026-Q3"))

    await bot.say(ADMIN, "/bulletin")  # the last finished quarter: 2026-Q1
    assert methods_to(bot, ADMIN.id)[-3:] == ["sendPhoto", "sendDocument", "sendMessage"]
    preview = bot.api.sent_messages(ADMIN.id)[-1]["text"]
    assert "2026" in preview and "1. 市公安局" in preview and "Preview" in preview
    assert await _stored(bot, "2026-Q1") is None, "a preview freezes nothing"

    assert "No quarterly bulletin" in texts(await bot.say(ADMIN, "/publish"))
    assert "not over yet" in texts(await bot.say(ADMIN, "/publish 2026-Q2"))
    assert "is published" in texts(await bot.say(ADMIN, "/publish 2026-Q1"))
    assert "already published" in texts(await bot.say(ADMIN, "/publish 2026-Q1"))
    listing = texts(await bot.say(ADMIN, "/publish"))
    assert "2026-Q1" in listing and "published" in listing and "not published" not in listing
    frozen = await _stored(bot, "2026-Q1")
    assert frozen is not None and frozen.ranked[0].name == "市公安局"

    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        actions = (await session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id)))).all()
    await engine.dispose()
    assert "bulletin.publish" in actions

    assert "no longer" in texts(await bot.say(ADMIN, "/unpublish 2026-Q1"))
    assert "not published" in texts(await bot.say(ADMIN, "/unpublish 2026-Q1"))


def test_the_workbook_lists_the_ranking_and_the_components() -> None:
    from db.bulletin.scoring import UnitLine

    line = UnitLine(
        1, "D011", "=市公安局", "department", {"appraisal": 85.0}, {"ballots": 6}, 85.0, 1, True
    )
    bulletin = Bulletin(
        "2026-Q1",
        date(2026, 1, 1),
        date(2026, 3, 31),
        APRIL_FIRST_0931,
        {"appraisal": 0.2},
        1,
        (line,),
    )
    book = load_workbook(BytesIO(render_workbook(bulletin, lambda s: s)))
    rows = list(book[book.sheetnames[0]].iter_rows(values_only=True))
    assert rows[2][:5] == (1, "D011", "=市公安局", 85.0, "Yes"), "a name is text, not a formula"
    details = list(book[book.sheetnames[1]].iter_rows(values_only=True))
    assert "Appraisal score" in details[0] and 85.0 in details[1] and 6 in details[1]
