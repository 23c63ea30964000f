"""A department's duties through the bot: `/duties`, filing a quarterly report with answers and
a PDF, a self-check that fills the rectification ledger, refusals, drafts across a restart."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from sqlmodel import col, select

from bot.fakeapi import FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from bot.runtime.render import button_label
from db.calendar.workdays import WorkCalendar, end_of_day
from db.cases.categories import active_categories
from db.duties.obligations import DutySpec, create_obligation, open_submissions, review_submission
from db.duties.rules import DueRule
from db.engine import create_engine, session_factory
from db.models import (
    Department,
    DuePeriod,
    DutyDraft,
    DutyFile,
    DutyScope,
    LedgerSource,
    ObligationKind,
    RectificationItem,
    ReviewDecision,
    Submission,
    SubmissionRound,
    SubmissionState,
)
from handlers.duties.filing import FILED
from tests.handlers.cases.test_casework import ADMIN, LIAISON, OTHER, case_bot, join_liaison
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, html_sent, labels, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
COLLEAGUE = FakeUser(905, "小王", language_code="zh-hans")
LEADER = FakeUser(906, "局长", language_code="zh-hans")
TAX_LIAISON = FakeUser(907, "Tax", language_code="en")
QUESTIONS = ("本季度开展了哪些工作?", "发现并整改了哪些问题?")
PDF = b"%PDF-1.4 quarterly report of the police bureau"


async def _db(bot: Harness) -> Any:
    engine = create_engine(bot.settings.database.url)
    return engine, session_factory(engine)


async def add_duty(
    bot: Harness, kind: ObligationKind, title: str, rule: DueRule, questions: tuple[str, ...] = ()
) -> dict[str, int]:
    """An admin's duty for every unit, its submissions opened; the submission id per unit code."""
    engine, sessions = await _db(bot)
    async with sessions() as session:
        spec = DutySpec(kind=kind, title=title, scope=DutyScope.all, rule=rule, questions=questions)
        duty = await create_obligation(
            session, spec, actor_account_id=None, now=bot.clock.now, tz=bot.settings.tz
        )
        assert not isinstance(duty, str)
        await open_submissions(session, bot.clock.now, WorkCalendar({}), bot.settings.tz)
        rows = (
            await session.exec(
                select(Department.code, Submission.id)
                .join(Submission, col(Submission.department_id) == col(Department.id))
                .where(Submission.obligation_id == duty.id)
            )
        ).all()
        await session.commit()
    await engine.dispose()
    return {code: sid for code, sid in rows if sid is not None}


async def stored(bot: Harness, model: type[Any]) -> list[Any]:
    engine, sessions = await _db(bot)
    async with sessions() as session:
        rows = list((await session.exec(select(model))).all())
    await engine.dispose()
    return rows


async def invite(bot: Harness, user: FakeUser, role: str, code: str) -> None:
    answer = texts(await bot.say(ADMIN, f"/invite {role} {code}"))
    match = LINK.search(answer)
    assert match, answer
    await bot.say(user, f"/start {match.group(1)}")


QUARTERLY = DueRule(DuePeriod.quarter, days_after=5)
Q1 = ZH("Q{quarter} {year}").format(quarter=1, year=2026)


async def test_a_liaison_files_a_quarterly_report_with_answers_and_a_pdf(
    case_bot: Harness,
) -> None:
    bot = case_bot
    await join_liaison(bot)
    await invite(bot, COLLEAGUE, "liaison", "D011")
    await bot.say(ADMIN, "/start")
    ids = await add_duty(bot, ObligationKind.quarterly, "季度工作报告", QUARTERLY, QUESTIONS)
    police = ids["D011"]

    listed = await bot.say(LIAISON, "/duties")
    assert "市公安局" in texts(listed) and "季度工作报告" in texts(listed) and Q1 in texts(listed)
    label = button_label(ZH("File: {title} ({period})").format(title="季度工作报告", period=Q1))
    assert label in labels(bot.api, listed[-1])

    opened = await bot.press(LIAISON, label)
    assert QUESTIONS[0] in texts(opened)
    await bot.say(LIAISON, "开展窗口作风<专项>整治")
    too_long = await bot.say(LIAISON, "字" * (bot.settings.duties.max_text_chars + 1))
    assert str(bot.settings.duties.max_text_chars) in texts(too_long)
    second = await bot.say(LIAISON, "发现两处推诿问题，已整改")
    assert ZH("Skip") in labels(bot.api, second[-1])
    await bot.feed(bot.api.sticker_update(LIAISON), LIAISON)
    await bot.say(LIAISON, "附件为详细报告。")

    wrong = await bot.feed(
        bot.api.document_update(LIAISON, b"PK\x03\x04", "x.zip", "application/zip"), LIAISON
    )
    assert "application/zip" in texts(wrong)
    big = await bot.feed(
        bot.api.document_update(
            LIAISON, b"%PDF-big", "big.pdf", "application/pdf", file_size=50 * 2**20
        ),
        LIAISON,
    )
    assert "50.0" in texts(big)
    await bot.feed(
        bot.api.document_update(LIAISON, PDF, "一季度报告.pdf", "application/pdf"), LIAISON
    )
    summary = await bot.press(LIAISON, ZH("Done"))
    assert "开展窗口作风&lt;专项&gt;整治" in html_sent(bot.api, LIAISON.id)
    assert ZH("File") in labels(bot.api, summary[-1])
    done = await bot.press(LIAISON, ZH("File"))
    confirmation = texts(done)
    assert ZH("on time") in confirmation and "季度工作报告" in confirmation

    [submission] = [s for s in await stored(bot, Submission) if s.id == police]
    assert submission.state is SubmissionState.submitted and submission.rounds == 1
    [filed] = await stored(bot, SubmissionRound)
    assert json.loads(filed.answers) == [
        {"question": QUESTIONS[0], "answer": "开展窗口作风<专项>整治"},
        {"question": QUESTIONS[1], "answer": "发现两处推诿问题，已整改"},
    ]
    assert filed.body == "附件为详细报告。"
    [kept] = await stored(bot, DutyFile)
    assert kept.round_id == filed.id and kept.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (bot.settings.attachments_dir / kept.path).read_bytes() == PDF
    assert await stored(bot, DutyDraft) == []

    # The office gets the content and the review buttons with the current version.
    review = [
        m
        for m in bot.api.sent_messages(ADMIN.id)
        if cb.DUTY_REVIEW.pack("accepted", police, submission.version)
        in [d for row in bot.api.buttons(m) for _t, d in row]
    ]
    assert review and "市公安局" in review[-1]["text"] and QUESTIONS[0] in review[-1]["text"]
    assert any(m.get("document") for m in bot.api.sent_messages(ADMIN.id))
    assert "市公安局" in texts(bot.api.sent_messages(COLLEAGUE.id)[-1:])

    # Filing again while the office reviews it is refused; so is a stale summary button.
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(police))
    assert "季度工作报告" in bot.last_answer()["text"]
    after = await bot.say(LIAISON, "/duties")
    assert label not in labels(bot.api, after[-1])
    assert len(await stored(bot, SubmissionRound)) == 1


async def test_a_self_check_with_two_problems_fills_the_ledger(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    ids = await add_duty(
        bot,
        ObligationKind.self_check,
        "自查自纠",
        DueRule(DuePeriod.once, due_on=date(2026, 3, 31)),
    )
    engine, sessions = await _db(bot)
    async with sessions() as session:
        categories = await active_categories(session)
    await engine.dispose()

    await bot.say(LIAISON, "/duties")
    label = button_label(
        ZH("File: {title} ({period})").format(title="自查自纠", period=ZH("one-off"))
    )
    first = await bot.press(LIAISON, label)
    assert categories[0].name_zh in texts(first)
    buttons = await bot.say(LIAISON, "随便写点")
    assert ZH("Please use the buttons.") in texts(buttons)

    for index, category in enumerate(categories):
        if index >= 2:
            await bot.press(LIAISON, ZH("None found"))
            continue
        await bot.press(LIAISON, ZH("Problems found"))
        await bot.say(LIAISON, f"{category.name_zh}：窗口人员推诿")
        await bot.say(LIAISON, "约谈并通报批评")
        too_long_owner = await bot.say(LIAISON, "名" * 51)
        assert "50" in texts(too_long_owner)
        await bot.say(LIAISON, "张科长")
        past = await bot.say(LIAISON, "2020-01-01")
        assert "2020-01-01" in texts(past) and "2026-03-16" in texts(past)
        unreadable = await bot.say(LIAISON, "下个月")
        assert "下个月" in texts(unreadable)
        await bot.say(LIAISON, "2026/12/31" if index == 0 else "6月30日")

    summary = bot.api.last_message(LIAISON.id)
    assert "张科长" in summary["text"] and "2026-06-30" in summary["text"]
    await bot.press(LIAISON, ZH("File"))

    items = sorted(await stored(bot, RectificationItem), key=lambda i: i.id)
    assert [i.category_id for i in items] == [categories[0].id, categories[1].id]
    assert all(i.source is LedgerSource.self_check for i in items)
    assert all(i.submission_id == ids["D011"] and i.owner_name == "张科长" for i in items)
    assert items[0].due_at == end_of_day(date(2026, 12, 31), bot.settings.tz)
    assert items[1].due_at == end_of_day(date(2026, 6, 30), bot.settings.tz)
    [filed] = await stored(bot, SubmissionRound)
    answers = json.loads(filed.answers)
    assert [a["found"] for a in answers[:3]] == [True, True, False]
    assert len(answers) == len(categories)


async def test_refusals_for_strangers_other_units_and_finished_submissions(
    case_bot: Harness,
) -> None:
    bot = case_bot
    await join_liaison(bot)
    await invite(bot, LEADER, "leader", "D011")
    ids = await add_duty(bot, ObligationKind.quarterly, "季度工作报告", QUARTERLY, QUESTIONS)

    stranger = await bot.say(OTHER, "/duties")
    assert EN(
        "/duties lists what a unit owes to the campaign office. It is for the "
        "liaisons and leaders of units; your account holds neither role."
    ) in texts(stranger)

    # Another unit's submission and an unknown one get the same answer, and no content.
    other_unit = next(sid for code, sid in ids.items() if code != "D011")
    await bot.say(LIAISON, "/start")
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(other_unit))
    foreign = bot.last_answer()["text"]
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(999999))
    assert bot.last_answer()["text"] == foreign
    await bot.press_data(LIAISON, "do:abc")
    assert bot.last_answer()["text"] == foreign
    assert "季度工作报告" not in foreign

    # A leader reads the list but cannot file.
    read_only = await bot.say(LEADER, "/duties")
    assert "季度工作报告" in texts(read_only)
    assert not any(
        d and d.startswith("do:") for m in read_only for r in bot.api.buttons(m) for _t, d in r
    )
    await bot.press_data(LEADER, cb.DUTY_OPEN.pack(ids["D011"]))
    assert bot.last_answer()["text"] == ZH(
        "This submission is not one of your unit's duties. Send /duties to see them."
    )

    # `/duties status` is the office's matrix, never this list.
    status = await bot.say(LIAISON, "/duties status")
    assert "季度工作报告" not in texts(status)

    # Accepted: nothing more to file.
    engine, sessions = await _db(bot)
    async with sessions() as session:
        submission = await session.get(Submission, ids["D011"])
        assert submission is not None
        submission.state = SubmissionState.accepted
        await session.commit()
    await engine.dispose()
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(ids["D011"]))
    assert "季度工作报告" in bot.last_answer()["text"]
    assert await stored(bot, DutyDraft) == []


async def test_a_draft_survives_a_restart_and_cancel_clears_it(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    ids = await add_duty(bot, ObligationKind.quarterly, "季度工作报告", QUARTERLY, QUESTIONS)
    await bot.say(LIAISON, "/duties")
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(ids["D011"]))
    await bot.say(LIAISON, "第一题的回答")
    await bot.crash()

    await bot.start()
    after = await bot.say(LIAISON, "第二题的回答")
    assert ZH("Skip") in labels(bot.api, after[-1]), "the flow must continue at the text step"
    await bot.press(LIAISON, ZH("Skip"))
    await bot.feed(bot.api.photo_update(LIAISON, b"unique-duty-photo"), LIAISON)
    [draft] = await stored(bot, DutyDraft)
    assert "第一题的回答" in draft.data and "第二题的回答" in draft.data

    cancelled = await bot.say(LIAISON, "/cancel")
    assert ZH(
        "Cancelled. The draft and its files were discarded; nothing was filed. The duty "
        "is still owed: send /duties to file it later."
    ) in texts(cancelled)
    assert await stored(bot, DutyDraft) == []
    assert not any(f.is_file() for f in bot.settings.attachments_dir.rglob("*"))
    [submission] = [s for s in await stored(bot, Submission) if s.id == ids["D011"]]
    assert submission.state is SubmissionState.due and submission.rounds == 0
    stray = await bot.say(LIAISON, "还在吗")
    assert "第" not in texts(stray)


async def test_an_old_summary_cannot_file_a_changed_draft(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    once = DueRule(DuePeriod.once, due_on=date(2026, 4, 20))
    ids = await add_duty(bot, ObligationKind.plan, "实施方案", once)
    await bot.say(LIAISON, "/duties")
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(ids["D011"]))
    await bot.say(LIAISON, "方案正文第一稿")
    old = await bot.press(LIAISON, ZH("Done"))
    old_summary = old[-1]
    await bot.press(LIAISON, ZH("Edit"))
    await bot.press(LIAISON, ZH("Text"))
    await bot.say(LIAISON, "方案正文第二稿")  # back to the summary: the files step was done
    [stale] = [d for row in bot.api.buttons(old_summary) for t, d in row if t == ZH("File")]
    await bot.press_data(LIAISON, str(stale), old_summary)
    assert bot.last_answer()["text"] == ZH("That summary is out of date; here is the current one.")
    assert await stored(bot, SubmissionRound) == []
    await bot.press(LIAISON, ZH("File"))
    [filed] = await stored(bot, SubmissionRound)
    assert filed.body == "方案正文第二稿"


async def test_a_returned_report_shows_the_comment_and_is_filed_again(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    once = DueRule(DuePeriod.once, due_on=date(2026, 4, 20))
    ids = await add_duty(bot, ObligationKind.plan, "实施方案", once)
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(ids["D011"]))
    await bot.say(LIAISON, "方案第一稿")
    await bot.press(LIAISON, ZH("Done"))
    await bot.press(LIAISON, ZH("File"))
    engine, sessions = await _db(bot)
    async with sessions() as session:
        submission = await session.get(Submission, ids["D011"])
        assert submission is not None
        await review_submission(
            session,
            ids["D011"],
            ReviewDecision.returned,
            "请补充<时间表>",
            version=submission.version,
            reviewer_account_id=None,
            now=bot.clock.now,
            resubmit_days=5,
            calendar=WorkCalendar({}),
            tz=bot.settings.tz,
        )
        await session.commit()
    await engine.dispose()

    listed = await bot.say(LIAISON, "/duties")
    assert "2026-03-23 23:59" in texts(listed)  # five working days after the return
    bot.clock.advance(hours=1)
    opened = await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(ids["D011"]))
    assert "请补充&lt;时间表&gt;" in html_sent(bot.api, LIAISON.id) and opened

    # Left alone for longer than the idle timeout, a message is not taken as the answer.
    bot.clock.advance(minutes=bot.settings.conversation.idle_timeout_minutes + 1)
    aside = await bot.say(LIAISON, "随口一句")
    assert ZH("Continue filing") in labels(bot.api, aside[-1])
    await bot.press(LIAISON, ZH("Continue filing"))
    await bot.say(LIAISON, "方案第二稿，附时间表")
    await bot.press(LIAISON, ZH("Done"))
    done = await bot.press(LIAISON, ZH("File"))
    assert ZH(FILED).format(
        title="实施方案", period=ZH("one-off"), round=2, timing=ZH("on time")
    ) in texts(done)
    rounds = sorted(await stored(bot, SubmissionRound), key=lambda r: r.number)
    assert [r.body for r in rounds] == ["方案第一稿", "方案第二稿，附时间表"]
