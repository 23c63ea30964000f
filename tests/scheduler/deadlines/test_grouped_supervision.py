"""The office's 督办 for a duty comes once per duty, period and due day, listing the late units;
the units' leaders keep their own, and ledger items and reports keep one each."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.render import MESSAGE_MAX, fit_lines
from bot.runtime.settings import WecomSettings
from db.calendar.reminders import Rung
from db.calendar.workdays import end_of_day
from db.duties.obligations import DutySpec, create_obligation, file_submission
from db.ledger.items import NewItem, add_item
from db.models import Department, LedgerSource, OutboxMessage, Submission
from scheduler.deadlines.job import run_deadline_scan
from tests.handlers.cases.test_casework import ADMIN
from tests.harness import Harness, make_settings, prepare_database, texts
from tests.scheduler.deadlines.test_duty_reminders import QUARTERLY, SEPTEMBER, db, rungs
from tests.scheduler.deadlines.test_reminder_flow import count, scan_and_send

LINK = re.compile(r"start=([A-Za-z0-9_-]+)")
DIRECTOR = FakeUser(905, "主任", language_code="zh-hans")
"""A second admin, reading Chinese (ADMIN reads English)."""
LEADERS = {
    "D011": FakeUser(911, "公安王局", language_code="zh-hans"),
    "D012": FakeUser(912, "科技李局", language_code="zh-hans"),
    "D013": FakeUser(913, "水务张局", language_code="zh-hans"),
    "D014": FakeUser(914, "林业赵局", language_code="zh-hans"),
}
LATE = ("D011", "D012", "D013")
ON_TIME = "D014"
ODD_NAME = "市水务<局>&排水"
"""D013 renamed: a unit's name is escaped in the list."""


@pytest.fixture
async def two_admins(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id, DIRECTOR.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == []


async def unit_ids(bot: Harness, codes: tuple[str, ...]) -> dict[str, int]:
    async with db(bot) as session:
        rows = (await session.exec(select(Department).where(col(Department.code).in_(codes)))).all()
        return {d.code: d.id or 0 for d in rows}


async def four_units_owe_a_quarterly_report(bot: Harness) -> dict[str, int]:
    """Both admins and the four units' leaders in the bot; D013 renamed; the third quarter's
    submissions opened by a scan on 1 September."""
    await bot.say(ADMIN, "/start")
    await bot.say(DIRECTOR, "/start")
    for code, leader in LEADERS.items():
        match = LINK.search(texts(await bot.say(ADMIN, f"/invite leader {code}")))
        assert match
        await bot.say(leader, f"/start {match.group(1)}")
    ids = await unit_ids(bot, tuple(LEADERS))
    bot.clock.now = SEPTEMBER
    async with db(bot) as session:
        odd = await session.get(Department, ids["D013"])
        assert odd is not None
        odd.name = ODD_NAME
        session.add(odd)
        spec = DutySpec(**{**QUARTERLY.__dict__, "unit_ids": tuple(ids.values())})
        await create_obligation(
            session, spec, actor_account_id=None, now=bot.clock.now, tz=bot.settings.tz
        )
    await scan_and_send(bot)
    return ids


async def submissions(bot: Harness) -> dict[int, Submission]:
    async with db(bot) as session:
        return {s.department_id: s for s in (await session.exec(select(Submission))).all()}


async def test_each_admin_gets_one_supervision_listing_the_late_units(two_admins: Harness) -> None:
    bot = two_admins
    ids = await four_units_owe_a_quarterly_report(bot)
    owed = await submissions(bot)
    assert len(owed) == 4
    at = rungs(owed[ids["D011"]].due_at, bot)

    # D014 files on the due day, before its 督办 would have been due.
    bot.clock.now = at[(Rung.remind, 0)] + timedelta(minutes=1)
    async with db(bot) as session:
        filed = await file_submission(
            session,
            owed[ids[ON_TIME]].id or 0,
            department_ids=[ids[ON_TIME]],
            answers=[],
            body="本季度工作情况。",
            actor_account_id=None,
            now=bot.clock.now,
        )
    assert not isinstance(filed, str)

    # A crash between the scan and the sending neither loses nor repeats anything.
    bot.clock.now = at[(Rung.supervise, 3)] + timedelta(minutes=1)
    await run_deadline_scan(bot.context)
    await bot.crash()
    await bot.start()
    await scan_and_send(bot)
    await scan_and_send(bot)

    assert count(bot, ADMIN.id, "督办") == 1
    assert count(bot, DIRECTOR.id, "督办") == 1
    listing = bot.api.sent_messages(DIRECTOR.id)[-1]["text"]
    assert "3 个单位报送" in listing and "季度工作报告" in listing and "2026年第3季度" in listing
    assert "已超期 3 个工作日" in listing
    for name in ("市公安局", "市科技局", ODD_NAME):
        assert f"• {name}" in listing
    assert "市林业局" not in listing, "filed before the rung"
    english = bot.api.sent_messages(ADMIN.id)[-1]["text"]
    assert "3 units are 3 working days late" in english and ODD_NAME in english

    for code in LATE:
        assert count(bot, LEADERS[code].id, "督办") == 1
        own = bot.api.sent_messages(LEADERS[code].id)[-1]["text"]
        assert "个单位" not in own, "a leader hears about their own unit"
    assert count(bot, LEADERS[ON_TIME].id, "督办") == 0

    async with db(bot) as session:
        keys = (await session.exec(select(OutboxMessage.dedupe_key))).all()
    obligation = owed[ids["D011"]].obligation_id
    group = f"supervise:submission_group_O{obligation}_2026-Q3:+3:2026-10-13"
    assert sorted(k for k in keys if k.startswith(group)) == [
        f"{group}:{ADMIN.id}",
        f"{group}:{DIRECTOR.id}",
    ]

    # The rung stays due while the units have not filed: the next scans, on Monday and after
    # a restart, queue nothing more.
    bot.clock.now += timedelta(days=3)
    assert await run_deadline_scan(bot.context) == 0
    await bot.stop()
    await bot.start()
    assert await run_deadline_scan(bot.context) == 0
    await scan_and_send(bot)
    assert count(bot, ADMIN.id, "督办") == 1 and count(bot, DIRECTOR.id, "督办") == 1

    # A unit owing the same period since after the list went out (added to the scope late) was
    # not in it: the office hears about it on its own.
    d015 = (await unit_ids(bot, ("D015",)))["D015"]
    async with db(bot) as session:
        session.add(
            Submission(
                obligation_id=obligation,
                department_id=d015,
                period="2026-Q3",
                due_at=owed[ids["D011"]].due_at,
                created_at=bot.clock.now,
            )
        )
    bot.clock.now += timedelta(minutes=5)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, DIRECTOR.id, "督办") == 2
    alone = bot.api.sent_messages(DIRECTOR.id)[-1]["text"]
    assert "市商务局" in alone and "市公安局" not in alone and "个单位" not in alone


async def test_the_office_robot_gets_the_list_in_chinese(two_admins: Harness) -> None:
    bot = two_admins
    ids = await four_units_owe_a_quarterly_report(bot)
    bot.settings.wecom = WecomSettings(office_url=SecretStr("https://example.invalid/?key=k"))
    due = (await submissions(bot))[ids["D011"]].due_at
    bot.clock.now = rungs(due, bot)[(Rung.supervise, 3)] + timedelta(minutes=1)
    await run_deadline_scan(bot.context)
    async with db(bot) as session:
        rows = (await session.exec(select(OutboxMessage))).all()
    office = [r for r in rows if r.dedupe_key.endswith(":wecom-office")]
    assert len(office) == 1 and "_group_" in office[0].dedupe_key
    assert "以下 4 个单位" in office[0].text and "市水务&lt;局&gt;&amp;排水" in office[0].text


async def test_ledger_items_keep_one_supervision_each(two_admins: Harness) -> None:
    bot = two_admins
    await bot.say(ADMIN, "/start")
    ids = await unit_ids(bot, LATE)
    bot.clock.now = SEPTEMBER
    due = end_of_day(date(2026, 9, 15), bot.settings.tz)
    async with db(bot) as session:
        for code in LATE:
            await add_item(
                session,
                NewItem(ids[code], LedgerSource.self_check, f"{code} 公示栏信息过期", due),
                actor_account_id=None,
                now=bot.clock.now,
            )
    bot.clock.now = rungs(due, bot)[(Rung.supervise, 3)] + timedelta(minutes=1)
    await scan_and_send(bot)
    await scan_and_send(bot)
    assert count(bot, ADMIN.id, "督办") == 3
    for code in LATE:
        assert count(bot, ADMIN.id, f"{code} 公示栏信息过期") == 1


def test_a_long_list_is_cut_to_one_message_saying_how_many_are_left_out() -> None:
    units = [f"• 第{n}区人民政府办公室综合科" for n in range(400)]
    text = fit_lines(
        "督办：400 个单位",
        units,
        lambda rest: f"……另有 {rest} 个单位。",
        lambda t: len(t) <= MESSAGE_MAX,
    )
    assert len(text) <= MESSAGE_MAX
    shown = text.count("\n• ")
    assert 0 < shown < 400 and text.endswith(f"……另有 {400 - shown} 个单位。")
    short = fit_lines("督办", units[:3], lambda rest: f"{rest}", lambda t: len(t) <= MESSAGE_MAX)
    assert short == "\n".join(["督办", *units[:3]])
