"""情况通报 through the bot: published once on the first working day, previewed with /digest."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.digest_bundle import DigestBundle, build_digest_bundle
from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.settings import Settings
from db.calendar.workdays import WorkCalendar
from db.engine import create_engine, session_factory
from db.models import Department, OutboxMessage, Role
from db.people.accounts import get_or_create_account
from db.people.roles import grant_role
from scheduler.office import digest as digest_job
from scheduler.office.digest import first_working_day, publish_digest
from tests.factories import file_report
from tests.handlers.cases.test_case_loop import LEADER, join_leader, signed_report
from tests.handlers.cases.test_casework import ADMIN, LIAISON
from tests.harness import Harness, make_settings, prepare_database, texts
from tests.scheduler.delivery.test_outbox import office, sender_of

__all__ = ["office"]

APRIL_FIRST_0901 = datetime(2026, 4, 1, 1, 1, tzinfo=UTC)  # Wednesday 09:01 in Shanghai


def methods_to(bot: Harness, chat_id: int) -> list[str]:
    return [c.method for c in bot.api.calls if c.params.get("chat_id") == chat_id]


def test_the_first_working_day_skips_holidays() -> None:
    calendar = WorkCalendar()
    assert first_working_day(date(2026, 4, 1), calendar) == date(2026, 4, 1)
    assert first_working_day(date(2026, 10, 1), calendar) > date(2026, 10, 7)
    assert first_working_day(date(2026, 2, 1), calendar) == date(2026, 2, 2)  # a Sunday


async def test_the_monthly_digest_goes_out_once(office: Harness) -> None:
    bot = office
    await join_leader(bot)
    await signed_report(bot)
    await bot.say(ADMIN, "/start")
    assert bot.app is not None
    services = bot.app.bot_data["services"]

    bot.clock.now = APRIL_FIRST_0901.replace(hour=0)  # 08:01: not yet
    assert await publish_digest(services, bot.clock.now) == 0
    bot.clock.now = APRIL_FIRST_0901
    assert await publish_digest(services, bot.clock.now) > 0
    assert await publish_digest(services, bot.clock.now) == 0, "once"
    for _ in range(3):
        await sender_of(bot).drain_once()

    assert methods_to(bot, ADMIN.id)[-3:] == ["sendPhoto", "sendDocument", "sendMessage"]
    office_text = bot.api.sent_messages(ADMIN.id)[-1]["text"]
    assert "2026" in office_text and "市公安局" in office_text
    assert "above this message" in office_text, "the files came first: the text points up"
    for official in (LIAISON, LEADER):
        unit_text = bot.api.sent_messages(official.id)[-1]["text"]
        assert "市公安局" in unit_text and "2026" in unit_text
    before = len(bot.api.calls)
    await bot.crash()
    await bot.start()
    assert await publish_digest(services := bot.app.bot_data["services"], bot.clock.now) == 0
    await sender_of(bot).drain_once()
    assert services is not None
    assert not [c for c in bot.api.calls[before:] if c.method in ("sendPhoto", "sendDocument")]


async def test_admins_preview_any_month(office: Harness) -> None:
    bot = office
    await signed_report(bot)
    stranger = FakeUser(907, "Stranger", language_code="en")
    assert "only the campaign office" in texts(await bot.say(stranger, "/digest"))
    bad = texts(await bot.say(ADMIN, "/digest March"))
    assert "YYYY-MM" in bad
    assert "has not started" in texts(await bot.say(ADMIN, "/digest 2027-01"))
    await bot.say(ADMIN, "/digest 2026-03")
    assert methods_to(bot, ADMIN.id)[-3:] == ["sendPhoto", "sendDocument", "sendMessage"]
    assert "市公安局" in bot.api.sent_messages(ADMIN.id)[-1]["text"]


async def test_a_fresh_installation_sends_no_digest_of_a_month_before_it(office: Harness) -> None:
    bot = office
    assert bot.app is not None
    services = bot.app.bot_data["services"]
    bot.clock.now = APRIL_FIRST_0901  # first start on the digest morning of March
    assert await publish_digest(services, bot.clock.now) == 0
    await join_leader(bot)  # used from April on: April's digest is due in May
    await signed_report(bot)
    assert await publish_digest(services, bot.clock.now) == 0, "still nothing for March"
    assert not [c for c in bot.api.calls if c.method in ("sendPhoto", "sendDocument")]
    bot.clock.now = APRIL_FIRST_0901.replace(month=5, day=6)  # 1–5 May are holidays
    assert await publish_digest(services, bot.clock.now) > 0


async def test_a_digest_built_in_a_child_process_is_the_same(office: Harness) -> None:
    """The bot builds the digest in a process of its own (`[digest] separate_process`, on by
    default; the tests build it in theirs): the child, with its own connections, makes the same
    messages and workbook from the same database."""
    bot = office
    await join_leader(bot)
    await signed_report(bot)
    at_home = bot.settings
    in_a_child = at_home.model_copy(
        update={"digest": at_home.digest.model_copy(update={"separate_process": True})}
    )
    engine = create_engine(at_home.database.url)
    async with session_factory(engine)() as session:
        here = await build_digest_bundle(session, at_home, date(2026, 3, 1), bot.clock.now, "en")
        there = await build_digest_bundle(
            session, in_a_child, date(2026, 3, 1), bot.clock.now, "en"
        )
    await engine.dispose()
    assert "市公安局" in there.office_text
    assert there.office_text == here.office_text
    assert there.department_texts == here.department_texts
    assert there.chart_png.startswith(b"\x89PNG")
    assert cells(there.workbook_xlsx) == cells(here.workbook_xlsx)


def cells(xlsx: bytes) -> dict[str, list[tuple[object, ...]]]:
    workbook = load_workbook(BytesIO(xlsx), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in workbook}


async def test_every_language_is_built_before_the_first_row_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Building a bundle takes seconds on a city's database: each is built before the digest's
    transaction writes its first row, or everybody's writes would wait for it. An admin in the
    default language and a liaison in English need two bundles."""
    admin = FakeUser(970, "办公室", language_code="zh-hans")
    settings = make_settings(tmp_path, admin_ids=[admin.id])
    await prepare_database(settings.database.url)
    engine = create_engine(settings.database.url)
    async with session_factory(engine)() as session:
        police = (await session.exec(select(Department).where(Department.code == "D011"))).one()
        english, _ = await get_or_create_account(session, 971, "en")
        reporter, _ = await get_or_create_account(session, 972, "zh_CN")
        await get_or_create_account(session, admin.id, "zh_CN")
        assert english.id is not None and reporter.id is not None and police.id is not None
        await grant_role(session, english.id, Role.liaison, police.id, APRIL_FIRST_0901)
        await file_report(session, reporter.id, datetime(2026, 3, 10, 2, tzinfo=UTC), police.id)
        await session.commit()
    await engine.dispose()

    written_before: dict[str, int] = {}
    real = digest_job.build_digest_bundle

    async def build(
        session: AsyncSession, settings: Settings, month: date, now: datetime, language: str
    ) -> DigestBundle:
        queued = select(func.count()).select_from(OutboxMessage)
        written_before[language] = int(await session.scalar(queued) or 0)
        return await real(session, settings, month, now, language)

    monkeypatch.setattr(digest_job, "build_digest_bundle", build)
    bot = Harness(api=FakeBotApi(), settings=settings)
    bot.clock.now = APRIL_FIRST_0901
    await bot.start()
    try:
        assert bot.app is not None
        assert await publish_digest(bot.app.bot_data["services"], APRIL_FIRST_0901) > 0
    finally:
        await bot.stop()
    assert written_before == {"zh_CN": 0, "en": 0}
