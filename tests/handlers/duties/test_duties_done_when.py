"""Issue 6's "done when", through the bot in Chinese, on one clock from March to May 2026.

The office creates the quarterly report duty for all departments and a self-check. 市公安局 files
its self-check with three problems, works one of them off with a photo, and files the quarterly
report on time; 市发改委 is reminded the day before the due day and files late;
市住房保障和房产管理局 files on time, is returned with comments and files again, then is accepted.
The status matrix and the April digest (按时报送率, 整改完成率) show exactly that.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.models import (
    Department,
    DutyFile,
    LedgerState,
    Obligation,
    RectificationItem,
    Submission,
    SubmissionRound,
    SubmissionState,
)
from scheduler.office.digest import run_digest_job
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, labels, make_settings, prepare_database, texts
from tests.scheduler.deadlines.test_reminder_flow import count, scan_and_send
from tests.scheduler.delivery.test_outbox import sender_of

ZH = gettext_for("zh_CN")
ADMIN = FakeUser(900, "作风办", language_code="zh-hans")
POLICE = FakeUser(911, "公安联络员", language_code="zh-hans")
REFORM = FakeUser(912, "发改联络员", language_code="zh-hans")
HOUSING = FakeUser(913, "房管联络员", language_code="zh-hans")
UNITS = {POLICE.id: "D011", REFORM.id: "D001", HOUSING.id: "D008"}


def shanghai(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour - 8, minute, tzinfo=UTC)


QUARTERLY = """/duty
类型：季度报送
标题：2026年作风建设季度工作报告
范围：全部
期限：每季度结束后5个工作日
问题：
本季度开展了哪些工作？
发现了哪些问题，如何整改？"""

SELF_CHECK = """/duty
类型：自查自纠
标题：2026年作风建设自查自纠
范围：全部
期限：2026-03-31"""


@pytest.fixture
async def campaign(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    bot = Harness(api=FakeBotApi(), settings=settings)
    bot.clock.now = shanghai(3, 2, 10)  # Monday
    await bot.start()
    await bot.say(ADMIN, "/start")
    for user, code in ((POLICE, "D011"), (REFORM, "D001"), (HOUSING, "D008")):
        match = LINK.search(texts(await bot.say(ADMIN, f"/invite liaison {code}")))
        assert match
        await bot.say(user, f"/start {match.group(1)}")
    yield bot
    if bot.app is not None:
        await bot.stop()
    assert bot.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def rows(bot: Harness, model: type, *where: object) -> list:  # type: ignore[type-arg]
    assert bot.app is not None
    async with bot.app.bot_data["services"].sessions() as session:
        statement = select(model).where(*where).order_by(col(model.id))  # type: ignore[attr-defined]
        return list((await session.exec(statement)).all())


async def submission_of(bot: Harness, user: FakeUser, duty_title: str) -> Submission:
    [duty] = await rows(bot, Obligation, Obligation.title == duty_title)
    found = [
        s
        for s in await rows(bot, Submission, Submission.obligation_id == duty.id)
        if s.period in ("once", "2026-Q1")
    ]
    assert bot.app is not None
    async with bot.app.bot_data["services"].sessions() as session:
        unit = (
            await session.exec(select(Department).where(Department.code == UNITS[user.id]))
        ).one()
    [mine] = [s for s in found if s.department_id == unit.id]
    return mine


async def file_quarterly(bot: Harness, user: FakeUser, first: str) -> str:
    """Open the report from `/duties`, answer both questions, skip the text, file it."""
    listed = await bot.say(user, "/duties")
    [button] = [
        label
        for label in labels(bot.api, listed[-1])
        if "季度工作报告" in label and "第1季度" in label
    ]
    await bot.press(user, button)
    await bot.say(user, first)
    await bot.say(user, "未发现新问题。")
    await bot.press(user, ZH("Skip"))
    await bot.press(user, ZH("Done"))
    return texts(await bot.press(user, ZH("File")))


async def test_a_quarter_of_duties_in_chinese(campaign: Harness) -> None:
    bot = campaign

    # The office creates both duties through the bot.
    created = texts(await bot.say(ADMIN, QUARTERLY))
    assert "2026-04-08" in created, created  # 5 working days after 31 March, past 清明
    assert "2026-03-31" in texts(await bot.say(ADMIN, SELF_CHECK))
    assert count(bot, POLICE.id, "2026年作风建设季度工作报告") >= 1, "the units are told"

    # 市公安局's self-check: three of the categories have problems, the rest none.
    listed = await bot.say(POLICE, "/duties")
    [button] = [label for label in labels(bot.api, listed[-1]) if "自查自纠" in label]
    await bot.press(POLICE, button)
    dues = ["2026-04-20", "2026-04-30", "2026-06-30"]
    found = 0
    while ZH("Problems found") in labels(bot.api, bot.api.last_message(POLICE.id)):
        if found < 3:
            await bot.press(POLICE, ZH("Problems found"))
            await bot.say(POLICE, f"问题{found + 1}：窗口人员办事拖沓，群众反映强烈。")
            await bot.say(POLICE, "约谈提醒并建立首问负责制")
            await bot.say(POLICE, "张科长")
            await bot.say(POLICE, dues[found])
            found += 1
        else:
            await bot.press(POLICE, ZH("None found"))
    assert "已" in texts(await bot.press(POLICE, ZH("File")))
    items = await rows(bot, RectificationItem)
    assert [i.state for i in items] == [LedgerState.open] * 3

    # One item is worked off with a photo as evidence and confirmed by the office.
    bot.clock.now = shanghai(4, 10, 11)
    first = items[0]
    await bot.press_data(POLICE, cb.LEDGER_ITEM.pack("done", first.id, first.version))
    await bot.say(POLICE, "已约谈相关人员，首问负责制已印发执行。")
    await bot.feed(bot.api.photo_update(POLICE, b"rules-on-the-wall"), POLICE)
    await bot.press(POLICE, ZH("No more files"))
    await bot.press(POLICE, ZH("Submit"))
    await sender_of(bot).drain_once()
    [done] = await rows(bot, RectificationItem, RectificationItem.id == first.id)
    assert done.state is LedgerState.done
    await bot.press_data(ADMIN, cb.LEDGER_ITEM.pack("confirm", done.id, done.version))
    [confirmed] = await rows(bot, RectificationItem, RectificationItem.id == first.id)
    assert confirmed.state is LedgerState.confirmed
    assert len(await rows(bot, DutyFile, col(DutyFile.update_id).is_not(None))) == 1

    # Friday 3 April: 市公安局 and 市住房保障和房产管理局 file on time.
    bot.clock.now = shanghai(4, 3, 10)
    assert ZH("on time") in await file_quarterly(bot, POLICE, "开展作风专项整治。")
    assert ZH("on time") in await file_quarterly(bot, HOUSING, "开展窗口作风检查。")
    await sender_of(bot).drain_once()

    # The office returns the housing bureau's report with comments; it files again and is
    # accepted.
    housing = await submission_of(bot, HOUSING, "2026年作风建设季度工作报告")
    assert housing.id is not None
    await bot.press_data(ADMIN, cb.DUTY_REVIEW.pack("returned", housing.id, housing.version))
    await bot.say(ADMIN, "请补充典型案例和整改数据。")
    await sender_of(bot).drain_once()
    told = texts(bot.api.sent_messages(HOUSING.id)[-1:])
    assert "请补充典型案例和整改数据。" in told
    await bot.press(HOUSING, ZH("File again"))
    await bot.say(HOUSING, "开展窗口作风检查，典型案例两件。")
    await bot.say(HOUSING, "整改数据见下。")
    await bot.press(HOUSING, ZH("Skip"))
    await bot.press(HOUSING, ZH("Done"))
    await bot.press(HOUSING, ZH("File"))
    housing = await submission_of(bot, HOUSING, "2026年作风建设季度工作报告")
    assert housing.rounds == 2
    await bot.press_data(ADMIN, cb.DUTY_REVIEW.pack("accepted", housing.id, housing.version))
    housing = await submission_of(bot, HOUSING, "2026年作风建设季度工作报告")
    assert housing.state is SubmissionState.accepted

    # Tuesday 7 April 09:01: the day-before reminder reaches 市发改委 (and not the ones who
    # filed); it files late on Thursday 9 April.
    bot.clock.now = shanghai(4, 7, 9, 1)
    police_before = len(bot.api.sent_messages(POLICE.id))
    await scan_and_send(bot)
    reminders = [
        m["text"]
        for m in bot.api.sent_messages(REFORM.id)
        if "2026年作风建设季度工作报告" in m["text"]
    ]
    assert any("2026-04-08" in text and "市发改委" in text for text in reminders[-1:]), reminders
    assert len(bot.api.sent_messages(POLICE.id)) == police_before, "filed: no reminder"
    bot.clock.now = shanghai(4, 9, 10)
    assert ZH("late") in await file_quarterly(bot, REFORM, "补报：开展作风专项整治。")
    reform = await submission_of(bot, REFORM, "2026年作风建设季度工作报告")
    assert reform.rounds == 1 and reform.first_submitted_at is not None
    rounds = await rows(bot, SubmissionRound)
    assert len(rounds) == 1 + 2 + 1 + 1  # self-check, housing twice, police, reform

    # The status matrix of the first quarter.
    [duty] = await rows(bot, Obligation, Obligation.title == "2026年作风建设季度工作报告")
    matrix = texts(await bot.say(ADMIN, f"/duties status {duty.id} 2026-Q1"))
    lines = matrix.splitlines()
    assert any("市公安局" in line and "✅" in line for line in lines), matrix
    assert any("市发改委" in line and "⚠️" in line for line in lines), matrix
    assert any("市住房保障和房产管理局" in line and "🟢" in line for line in lines), matrix
    assert any("❌" in line for line in lines), "the units that filed nothing are missing"

    # The April digest, published on the first working day of May (1–5 May are holidays).
    bot.clock.now = shanghai(5, 6, 9, 30)
    await run_digest_job(bot.context)
    await sender_of(bot).drain_once()
    title = ZH("Work-style bulletin for {year}-{month:02d}").format(year=2026, month=4)

    def bulletins(user: FakeUser) -> list[str]:
        return [m["text"] for m in bot.api.sent_messages(user.id) if title in m.get("text", "")]

    police_digest = bulletins(POLICE)
    assert police_digest, "市公安局 gets its figures"
    text = police_digest[-1]
    # One quarterly report due in April, filed on time; two ledger items due by 30 April,
    # one completed (the third is due in June).
    assert (
        ZH("Submissions on time: {rate} ({count} of {due} due)").format(
            rate="100.0%", count=1, due=1
        )
        in text
    ), text
    assert (
        ZH("Ledger completed: {rate} ({count} of {due} items due)").format(
            rate="50.0%", count=1, due=2
        )
        in text
    ), text
    reform_text = bulletins(REFORM)[-1]
    assert (
        ZH("Submissions on time: {rate} ({count} of {due} due)").format(rate="0.0%", count=0, due=1)
        in reform_text
    ), reform_text
    office = bulletins(ADMIN)
    assert office, "the office gets the city-wide view"
    owing = [
        s
        for s in await rows(bot, Submission, Submission.obligation_id == duty.id)
        if s.period == "2026-Q1"
    ]
    assert (
        ZH("Submissions on time: {rate} ({count} of {due} due)").format(
            rate=f"{2 / len(owing) * 100:.1f}%", count=2, due=len(owing)
        )
        in office[-1]
    ), office[-1]
    assert (
        ZH("Ledger completed: {rate} ({count} of {due} items due)").format(
            rate="50.0%", count=1, due=2
        )
        in office[-1]
    ), office[-1]
