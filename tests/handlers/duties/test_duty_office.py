"""The office's side of duties through the bot: creating duties, reviewing submissions, the status
matrix with its reminder button, edits, campaigns and the duties workbook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.audit import trail
from db.duties.obligations import file_submission, scope_unit_ids
from db.engine import create_engine, session_factory
from db.ledger.items import NewItem, add_item
from db.models import (
    Department,
    DutyScope,
    LedgerSource,
    OutboxMessage,
    Submission,
    SubmissionRound,
    SubmissionState,
)
from db.office.campaigns import init_campaign
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, html_sent, labels, make_settings, prepare_database, texts

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
ADMIN = FakeUser(900, "Admin", language_code="en")
LIAISON = FakeUser(901, "小李", language_code="zh-hans")
STRANGER = FakeUser(902, "Stranger", language_code="en")

QUARTERLY_FORM = """/duty
类型：季度报送
标题：2026年作风建设季度工作报告
范围：全部
期限：每季度结束后5个工作日
问题：
本季度开展了哪些工作？
发现了哪些问题，如何整改？"""


@pytest.fixture
async def office_bot(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    await harness.say(ADMIN, "/start")
    answer = texts(await harness.say(ADMIN, "/invite liaison D011"))
    match = LINK.search(answer)
    assert match, answer
    await harness.say(LIAISON, f"/start {match.group(1)}")
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def run_db(bot: Harness, work: Any) -> Any:
    """Run `work(session)` on the bot's database and commit."""
    engine = create_engine(bot.settings.database.url)
    try:
        async with session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def unit_id(bot: Harness, code: str) -> int:
    async def work(session: Any) -> int:
        unit = (await session.exec(select(Department).where(Department.code == code))).one()
        return int(unit.id)

    return int(await run_db(bot, work))


async def submissions(bot: Harness) -> dict[str, Submission]:
    """Submissions by unit code (of the newest duty)."""

    async def work(session: Any) -> dict[str, Submission]:
        rows = (
            await session.exec(
                select(Submission, Department)
                .join(Department, col(Department.id) == col(Submission.department_id))
                .order_by(col(Submission.id))
            )
        ).all()
        return {d.code: s for s, d in rows}

    result: dict[str, Submission] = await run_db(bot, work)
    return result


async def file(bot: Harness, code: str, answers: object = ("开展了培训", "无")) -> int:
    unit = await unit_id(bot, code)
    submission = (await submissions(bot))[code]

    async def work(session: Any) -> object:
        return await file_submission(
            session,
            int(submission.id or 0),
            department_ids=[unit],
            answers=list(answers) if isinstance(answers, tuple) else answers,
            body="本季度共开展专项检查3次。",
            actor_account_id=None,
            now=bot.clock.now,
        )

    filed = await run_db(bot, work)
    assert isinstance(filed, SubmissionRound), filed
    return int(submission.id or 0)


async def audit_actions(bot: Harness) -> list[tuple[str, str]]:
    async def work(session: Any) -> list[tuple[str, str]]:
        return [(e.action, e.subject) for e in await trail(session, limit=100)]

    result: list[tuple[str, str]] = await run_db(bot, work)
    return result


async def test_a_quarterly_duty_for_all_units(office_bot: Harness) -> None:
    bot = office_bot
    assert "类型：季度报送" in texts(await bot.say(ADMIN, "/duty"))
    answer = texts(await bot.say(ADMIN, QUARTERLY_FORM))

    async def all_units(session: Any) -> list[int]:
        return await scope_unit_ids(session, DutyScope.all, None, [])

    expected = len(await run_db(bot, all_units))
    assert expected > 20
    owed = await submissions(bot)
    assert len(owed) == expected
    due = owed["D011"].due_at.astimezone(bot.settings.tz)
    # Q1 2026 ends on Tuesday 31 March; 5 working days later, skipping the Qingming holiday
    # (4–6 April), is Wednesday 8 April.
    assert due.date() == date(2026, 4, 8)
    assert "Duty #1 created" in answer
    assert f"{expected} units owe it now" in answer and "2026-04-08" in answer
    assert {s.period for s in owed.values()} == {"2026-Q1"}

    notice = bot.api.last_message(LIAISON.id)
    assert "2026年作风建设季度工作报告" in notice["text"] and "2026年第1季度" in notice["text"]
    [[(label, data)]] = bot.api.buttons(notice)
    assert label == ZH("File it")
    assert data == cb.DUTY_OPEN.pack(owed["D011"].id or 0)
    assert ("duty.create", "duty:1") in await audit_actions(bot)

    listed = texts(await bot.say(ADMIN, "/duty list"))
    assert "#1 2026年作风建设季度工作报告" in listed and f"({expected} units)" in listed


async def periods_of(bot: Harness, duty_id: int) -> dict[str, list[str]]:
    async def work(session: Any) -> dict[str, list[str]]:
        rows = (
            await session.exec(
                select(Submission, Department)
                .join(Department, col(Department.id) == col(Submission.department_id))
                .where(col(Submission.obligation_id) == duty_id)
                .order_by(col(Submission.period))
            )
        ).all()
        found: dict[str, list[str]] = {}
        for submission, unit in rows:
            found.setdefault(unit.code, []).append(submission.period)
        return found

    result: dict[str, list[str]] = await run_db(bot, work)
    return result


async def test_a_duty_created_before_last_quarter_is_due_opens_only_this_quarter(
    office_bot: Harness,
) -> None:
    bot = office_bot
    # 2 April: the second quarter has begun, the first quarter's report is due on 8 April.
    bot.clock.now = datetime(2026, 4, 2, 2, tzinfo=UTC)
    before = len(bot.api.sent_messages(LIAISON.id))
    await bot.say(ADMIN, QUARTERLY_FORM)
    periods = await periods_of(bot, 1)
    assert periods["D011"] == ["2026-Q2"]
    assert {tuple(p) for p in periods.values()} == {("2026-Q2",)}
    notices = bot.api.sent_messages(LIAISON.id)[before:]
    assert len(notices) == 1, "one notice for a new duty, not one per period"
    assert "2026年第2季度" in notices[0]["text"]

    # The office asks for the quarter just ended as well.
    answer = texts(
        await bot.say(ADMIN, QUARTERLY_FORM.replace("范围：全部", "范围：全部\n起始：2026-Q1"))
    )
    assert "Duty #2 created" in answer
    assert (await periods_of(bot, 2))["D011"] == ["2026-Q1", "2026-Q2"]
    bad = texts(
        await bot.say(ADMIN, QUARTERLY_FORM.replace("范围：全部", "范围：全部\n起始：上季度"))
    )
    assert "上季度" in bad and "Nothing was changed" in bad
    assert not await periods_of(bot, 3)


async def test_bad_duty_forms_get_clear_answers_and_change_nothing(office_bot: Harness) -> None:
    bot = office_bot
    base = "/duty\n类型：工作方案\n标题：实施方案\n范围：全部\n"
    assert "already passed" in texts(await bot.say(ADMIN, base + "期限：2026-03-01"))
    assert "could not read the due rule “下周五”" in texts(
        await bot.say(ADMIN, base + "期限：下周五")
    )
    assert "“2026-02-30”" in texts(await bot.say(ADMIN, base + "期限：2026-02-30"))
    assert "No active unit" in texts(
        await bot.say(
            ADMIN, "/duty\n类型：总结\n标题：总结\n范围：类别 不存在的类别\n期限：2026-12-20"
        )
    )
    assert "D999" in texts(
        await bot.say(
            ADMIN, "/duty\n类型：总结\n标题：总结\n范围：单位 D011 D999\n期限：2026-12-20"
        )
    )
    assert "Unknown kind “周报”" in texts(
        await bot.say(ADMIN, "/duty\n类型：周报\n标题：x\n范围：全部\n期限：2026-12-20")
    )
    assert "lacks 范围、期限" in texts(await bot.say(ADMIN, "/duty\n类型：总结\n标题：年度总结"))
    assert "only the campaign office" in texts(await bot.say(STRANGER, QUARTERLY_FORM))
    assert "No duty has the number 7" in texts(await bot.say(ADMIN, "/duty off 7"))
    assert await submissions(bot) == {}
    assert [a for a in await audit_actions(bot) if a[0].startswith("duty.")] == []


async def test_review_return_with_comments_then_accept(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, QUARTERLY_FORM)
    submission_id = await file(bot, "D011")

    shown = await bot.say(ADMIN, f"/submission {submission_id}")
    card = shown[-1]
    assert "本季度开展了哪些工作？" in card["text"] and "开展了培训" in card["text"]
    assert labels(bot.api, card) == [EN("Accept"), EN("Return")]
    prompt = await bot.press(ADMIN, EN("Return"))
    assert "type the comments" in texts(prompt)
    await bot.say(ADMIN, "   ")  # blank comments are asked again
    done = texts(await bot.say(ADMIN, "请补充<整改措施>和责任人"))
    assert f"Submission #{submission_id}" in done and "returned" in done

    owed = await submissions(bot)
    assert owed["D011"].state is SubmissionState.returned
    notice = bot.api.last_message(LIAISON.id)
    assert "请补充<整改措施>和责任人" in notice["text"]
    assert "请补充&lt;整改措施&gt;和责任人" in html_sent(bot.api, LIAISON.id)
    resubmit = owed["D011"].resubmit_due_at
    assert resubmit is not None
    assert resubmit.astimezone(bot.settings.tz).strftime("%Y-%m-%d") in notice["text"]
    [[(label, data)]] = bot.api.buttons(notice)
    assert label == ZH("File again") and data == cb.DUTY_OPEN.pack(submission_id)

    # The Accept button of the card, pressed after the return: stale, refused, nothing changes.
    old_accept = cb.DUTY_REVIEW.pack("accepted", submission_id, owed["D011"].version - 1)
    await bot.press_data(ADMIN, old_accept, card)
    assert "has changed since these buttons were sent" in bot.last_answer()["text"]
    assert (await submissions(bot))["D011"].state is SubmissionState.returned

    bot.clock.advance(days=1)
    await file(bot, "D011", ["开展了培训", "已补充整改措施"])
    shown = await bot.say(ADMIN, f"/submission {submission_id}")
    card = shown[-1]
    assert "Round 1" in card["text"] and "Round 2" in card["text"]
    assert "请补充&lt;整改措施&gt;和责任人" in html_sent(bot.api, ADMIN.id)
    await bot.press(ADMIN, EN("Accept"))
    assert (await submissions(bot))["D011"].state is SubmissionState.accepted
    assert bot.api.last_message(LIAISON.id)["text"] == ZH(
        "The campaign office accepted your unit's submission #{id}: {title} ({period})."
    ).format(id=submission_id, title="2026年作风建设季度工作报告", period="2026年第1季度")

    # Pressing Accept again on the same card: already reviewed.
    await bot.press_data(ADMIN, cb.DUTY_REVIEW.pack("accepted", submission_id, 4), card)
    assert "Nothing was changed" in bot.last_answer()["text"]
    # A forged button from someone who is not an admin.
    await bot.say(STRANGER, "/start")
    await bot.press_data(STRANGER, cb.DUTY_REVIEW.pack("returned", submission_id, 5))
    assert "only the campaign office" in bot.last_answer()["text"]

    actions = await audit_actions(bot)
    assert ("duty.review.returned", f"submission:{submission_id}") in actions
    assert ("duty.review.accepted", f"submission:{submission_id}") in actions

    # The unit's liaison sees it without review buttons; a stranger learns nothing.
    mine = (await bot.say(LIAISON, f"/submission {submission_id}"))[-1]
    assert "已补充整改措施" in mine["text"] and "请补充<整改措施>和责任人" in mine["text"]
    assert bot.api.buttons(mine) == []
    assert "No submission has the number" in texts(
        await bot.say(STRANGER, f"/submission {submission_id}")
    )


async def test_status_matrix_and_remind_now_once(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(
        ADMIN, "/duty\n类型：工作方案\n标题：实施方案\n范围：单位 D011 D012 D013\n期限：2026-03-20"
    )
    await file(bot, "D012")  # on time: Monday 16 March
    bot.clock.now = datetime(2026, 3, 23, 2, 0, tzinfo=UTC)  # Monday after the due Friday
    await file(bot, "D013")  # late
    # D011 filed nothing: missing.

    status = (await bot.say(ADMIN, "/duties status 1"))[-1]
    lines = status["text"].splitlines()
    assert any(line.startswith("❌ D011") for line in lines)
    assert any(line.startswith("✅ D012") for line in lines)
    assert any(line.startswith("⚠️ D013") for line in lines)
    assert "missing 1" in status["text"] and "filed late 1" in status["text"]
    assert labels(bot.api, status) == [EN("Remind the {count} missing units now").format(count=1)]

    before = len(bot.api.sent_messages(LIAISON.id))
    answer = texts(
        await bot.press(ADMIN, EN("Remind the {count} missing units now").format(count=1))
    )
    assert "1 units reminded now" in answer
    reminders = bot.api.sent_messages(LIAISON.id)[before:]
    assert len(reminders) == 1 and "实施方案" in reminders[0]["text"]
    assert bot.api.buttons(reminders[0])[0][0][0] == ZH("File it")

    again = texts(
        await bot.press(ADMIN, EN("Remind the {count} missing units now").format(count=1))
    )
    assert "0 units reminded now; 1 already reminded today" in again
    assert len(bot.api.sent_messages(LIAISON.id)) == before + 1

    async def keys(session: Any) -> list[str]:
        rows = (await session.exec(select(OutboxMessage.dedupe_key))).all()
        return [k for k in rows if k.startswith("duty-remind:")]

    assert len(await run_db(bot, keys)) == 1
    assert ("duty.remind", "duty:1") in await audit_actions(bot)

    matrix = texts(await bot.say(ADMIN, "/duties status"))
    assert "#1 实施方案 (one-off)" in matrix and "❌  D011" in matrix
    assert "No duty has the number 9" in texts(await bot.say(ADMIN, "/duties status 9"))
    assert "no period 2026-Q9" in texts(await bot.say(ADMIN, "/duties status 1 2026-Q9"))
    assert "only the campaign office" in texts(await bot.say(STRANGER, "/duties status"))


async def test_edits_before_and_after_filing(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, QUARTERLY_FORM)
    shown = texts(await bot.say(ADMIN, "/duty edit 1"))
    assert "期限：每季度结束后5个工作日" in shown
    answer = texts(await bot.say(ADMIN, "/duty edit 1\n期限：每季度结束后7个工作日"))
    assert "open submissions follow the new duty" in answer
    due = (await submissions(bot))["D011"].due_at.astimezone(bot.settings.tz).date()
    assert due == date(2026, 4, 10)

    await file(bot, "D011")
    answer = texts(await bot.say(ADMIN, "/duty edit 1\n标题：季度工作报告（修订）"))
    assert "future periods only" in answer
    assert (await submissions(bot))["D011"].due_at.astimezone(bot.settings.tz).date() == due
    assert "could not read the due rule" in texts(await bot.say(ADMIN, "/duty edit 1\n期限：尽快"))
    assert "switched off" in texts(await bot.say(ADMIN, "/duty off 1"))
    assert "already switched off" in texts(await bot.say(ADMIN, "/duty off 1"))
    assert "(switched off)" in texts(await bot.say(ADMIN, "/duty list"))
    actions = [a for a, _s in await audit_actions(bot)]
    assert actions.count("duty.edit") == 2 and "duty.off" in actions


async def test_editing_a_filed_one_off_duty_says_what_it_changes(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, "/duty\n类型：工作方案\n标题：实施方案\n范围：全部\n期限：2026-04-20")
    await file(bot, "D011", answers=())
    answer = texts(await bot.say(ADMIN, "/duty edit 1\n期限：2026-04-30"))
    assert "one-off duty" in answer and "future periods" not in answer
    due = (await submissions(bot))["D012"].due_at.astimezone(bot.settings.tz).date()
    assert due == date(2026, 4, 20), "an open submission keeps its due day"


async def test_campaign_phases_and_the_current_phase_in_start(office_bot: Harness) -> None:
    bot = office_bot
    assert "no active campaign" in texts(await bot.say(ADMIN, "/campaign"))
    await run_db(bot, lambda session: init_campaign(session, "zhengfeng-2011", 2026))
    shown = texts(await bot.say(ADMIN, "/campaign"))
    assert "2. 集中整治  2026-03-01 – 2026-09-30 ◀ now" in shown

    assert "end (2026-03-15) before it starts" in texts(
        await bot.say(ADMIN, "/campaign phase 2 2026-09-30 2026-03-15")
    )
    assert "“2026-13-01”" in texts(await bot.say(ADMIN, "/campaign phase 2 2026-13-01 2026-09-30"))
    assert "no phase 9" in texts(await bot.say(ADMIN, "/campaign phase 9 2026-01-01 2026-01-02"))
    changed = texts(await bot.say(ADMIN, "/campaign phase 2 2026-03-20 2026-09-30 集中整治阶段"))
    assert "2. 集中整治阶段  2026-03-20 – 2026-09-30" in changed
    assert [a for a in await audit_actions(bot) if a[0] == "campaign.phase"] == [
        ("campaign.phase", "campaign:1")
    ]

    # 16 March is now between phases 1 (January–February) and 2: nothing to show.
    await bot.say(ADMIN, "/campaign phase 1 2026-01-01 2026-03-19")
    assert "启动和自查自纠" in texts(await bot.say(LIAISON, "/start"))
    assert "启动和自查自纠" not in texts(await bot.say(STRANGER, "/start"))


async def test_export_of_duties_as_a_workbook(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, QUARTERLY_FORM)
    await file(bot, "D011")
    unit = await unit_id(bot, "D011")
    due = datetime(2026, 4, 30, 16, tzinfo=UTC)
    await run_db(
        bot,
        lambda session: add_item(
            session,
            NewItem(unit, LedgerSource.inspection, "窗口人员脱岗", due, owner_name="张科长"),
            actor_account_id=None,
            now=bot.clock.now,
        ),
    )
    assert "two dates" in texts(await bot.say(ADMIN, "/export duties 2026-04-01"))
    assert "run forward" in texts(await bot.say(ADMIN, "/export duties 2026-06-30 2026-04-01"))
    answer = texts(await bot.say(ADMIN, "/export duties 2026-04-01 2026-06-30"))
    assert "submissions, 1 ledger items" in answer
    [path] = list((bot.settings.data_dir / "exports").glob("duties-20260401-20260630-*.xlsx"))
    workbook = load_workbook(BytesIO(path.read_bytes()), read_only=True)
    assert workbook.sheetnames == [EN("Submissions"), EN("Ledger")]
    filed = [r for r in workbook.worksheets[0].iter_rows(values_only=True)]
    assert filed[0][:3] == (EN("Duty"), EN("Kind"), EN("Unit code"))
    d011 = [r for r in filed if r[2] == "D011"]
    assert len(d011) == 1 and d011[0][7] == EN("yes") and d011[0][8] == 1
    ledger = [r for r in workbook.worksheets[1].iter_rows(values_only=True)]
    assert ledger[1][1] == "D011" and ledger[1][5] == "窗口人员脱岗" and ledger[1][7] == "张科长"
    assert ("export.duties", "export:2026-04-01:2026-06-30") in await audit_actions(bot)
    # The reports' /export still answers its own form.
    assert "YYYY-MM" in texts(await bot.say(ADMIN, "/export March"))
