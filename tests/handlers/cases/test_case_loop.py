"""The whole handling loop through the bot: questions, extensions, ratings, 重办 and 未评价."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from bot.runtime.settings import RoutingSettings
from db.engine import create_engine, session_factory
from db.models import Attachment, EventKind, ReportState
from db.people.roles import InviteProblem
from handlers.people.roles import PROBLEM_MESSAGES
from scheduler.cases.unrated import close_unrated_reports
from tests.handlers.cases.test_casework import ADMIN, LIAISON, assign, case_bot, join_liaison
from tests.handlers.cases.test_inbox import open_card, stored
from tests.handlers.cases.test_report_flow import fill_until_identity
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, html_sent, labels, make_settings, prepare_database, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
LEADER = FakeUser(903, "王局", language_code="zh-hans")
CITIZEN = FakeUser(
    7650001, "Zhangsan", last_name="Secretlast", username="citizen_secret", language_code="zh-CN"
)
SECRETS = (str(CITIZEN.id), "Zhangsan", "Secretlast", "citizen_secret")
NUMBER = "ZF2026-000001"


async def join_leader(bot: Harness) -> None:
    answer = texts(await bot.say(ADMIN, "/invite leader D011"))
    match = LINK.search(answer)
    assert match, answer
    await bot.say(LEADER, f"/start {match.group(1)}")


async def file_report(bot: Harness, mode: str = "Anonymous") -> str | None:
    """File a report in Chinese; returns the receipt code when one is shown."""
    await fill_until_identity(bot, CITIZEN)
    await bot.press(CITIZEN, ZH(mode))
    await bot.press(CITIZEN, ZH("Submit"))
    receipt = re.search(r"<code>([0-9A-Z-]{24})</code>", html_sent(bot.api, CITIZEN.id))
    return receipt.group(1) if receipt else None


async def signed_report(bot: Harness, mode: str = "Anonymous") -> str | None:
    await join_liaison(bot)
    receipt = await file_report(bot, mode)
    await assign(bot, NUMBER)
    await bot.press(LIAISON, ZH("Sign"))
    return receipt


async def state_of(bot: Harness) -> ReportState:
    reports, _units, _events = await stored(bot)
    return reports[NUMBER].state


async def test_the_whole_loop_in_chinese(case_bot: Harness) -> None:
    """The issue's scenario: assigned, signed, questioned, answered, 不满意, 重办, 满意."""
    bot = case_bot
    await join_leader(bot)
    await signed_report(bot)

    await bot.press(LIAISON, ZH("Ask the reporter"))
    asked = await bot.say(LIAISON, "请问是哪一天几点钟发生的？")
    assert ZH("Your question about {number} was sent.").format(number=NUMBER) in texts(asked)
    assert await state_of(bot) is ReportState.info_requested
    question = bot.api.last_message(CITIZEN.id)
    assert "请问是哪一天几点钟发生的？" in question["text"]
    assert "forward_origin" not in question

    await bot.press(CITIZEN, ZH("Answer the question"))
    await bot.say(CITIZEN, "")  # an empty text is refused and the step stays open
    thanked = await bot.say(CITIZEN, "3月10日上午10点左右")
    assert NUMBER in texts(thanked)
    assert "3月10日上午10点左右" in bot.api.last_message(LIAISON.id)["text"]
    assert await state_of(bot) is ReportState.signed

    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "经核实，当事人已调离窗口岗位。")
    answer = bot.api.last_message(CITIZEN.id)
    assert "经核实，当事人已调离窗口岗位。" in answer["text"]
    assert labels(bot.api, answer) == [
        ZH("Satisfied"),
        ZH("Basically satisfied"),
        ZH("Unsatisfied"),
    ]

    await bot.press(CITIZEN, ZH("Unsatisfied"))
    reopened = await bot.say(CITIZEN, "问题没有解决")
    assert f"举报 {NUMBER} 已退回承办单位重办" in texts(reopened)
    reports, _units, _events = await stored(bot)
    report = reports[NUMBER]
    assert report.state is ReportState.signed and report.reopen_count == 1
    assert report.rating_comment == "问题没有解决"
    liaison_notice = bot.api.last_message(LIAISON.id)["text"]
    assert "问题没有解决" in liaison_notice and NUMBER in liaison_notice

    # The old rating buttons are stale now: pressing one again changes nothing.
    await bot.press_data(CITIZEN, cb.RATE.pack("satisfied", report.id or 0))
    assert await state_of(bot) is ReportState.signed

    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "已重新办理：对当事人批评教育并在全局通报。")
    await bot.press(CITIZEN, ZH("Satisfied"))
    closed = await bot.press(CITIZEN, ZH("Rate without a comment"))
    assert ZH("Thank you for your rating. Report {number} is closed.").format(
        number=NUMBER
    ) in texts(closed)

    reports, _units, events = await stored(bot)
    assert reports[NUMBER].state is ReportState.closed
    assert reports[NUMBER].rating == "satisfied"
    kinds = [e.kind for e in sorted(events, key=lambda e: e.id or 0)]
    assert kinds == [
        EventKind.created,
        EventKind.accepted,
        EventKind.signed,
        EventKind.info_requested,
        EventKind.info_answered,
        EventKind.replied,
        EventKind.reopened,
        EventKind.replied,
        EventKind.rated,
    ]

    # Rating twice: refused, nothing changes.
    await bot.press_data(CITIZEN, cb.RATE.pack("unsatisfied", reports[NUMBER].id or 0))
    assert await state_of(bot) is ReportState.closed

    timeline = texts(await bot.say(CITIZEN, f"/status {NUMBER}"))
    for line in ("请问是哪一天几点钟发生的？", "3月10日上午10点左右", "已重新办理"):
        assert line in timeline

    for official in (LIAISON, LEADER):
        sent = html_sent(bot.api, official.id)
        for secret in SECRETS:
            assert secret not in sent, (official.id, secret)


async def test_fully_anonymous_reporter_answers_and_rates_through_the_receipt(
    case_bot: Harness,
) -> None:
    bot = case_bot
    receipt = await signed_report(bot, "Fully anonymous")
    assert receipt is not None
    before = len(bot.api.sent_messages(CITIZEN.id))

    await bot.press(LIAISON, ZH("Ask the reporter"))
    asked = await bot.say(LIAISON, "能否提供办事窗口编号？")
    assert "完全匿名" in texts(asked)
    assert len(bot.api.sent_messages(CITIZEN.id)) == before, "nobody to message"

    opened = await bot.say(CITIZEN, f"/receipt {receipt}")
    assert "能否提供办事窗口编号？" in texts(opened)
    await bot.press(CITIZEN, ZH("Answer the question"))
    await bot.say(CITIZEN, "是3号窗口")
    assert "是3号窗口" in bot.api.last_message(LIAISON.id)["text"]
    _r, _u, events = await stored(bot)
    answered = [e for e in events if e.kind is EventKind.info_answered]
    assert [e.actor_account_id for e in answered] == [None], "the receipt holder stays unlinked"

    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "已约谈3号窗口负责人。")
    opened = await bot.say(CITIZEN, f"/receipt {receipt}")
    assert "已约谈3号窗口负责人。" in texts(opened)
    await bot.press(CITIZEN, ZH("Unsatisfied"))
    await bot.say(CITIZEN, "约谈不够")
    reports, _u, events = await stored(bot)
    assert reports[NUMBER].state is ReportState.signed
    assert reports[NUMBER].reopen_count == 1
    assert all(e.actor_account_id is None for e in events if e.actor_role == "reporter")

    # A second 不满意 goes to the office.
    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "已对3号窗口负责人诫勉谈话。")
    await bot.say(CITIZEN, f"/receipt {receipt}")
    await bot.press(CITIZEN, ZH("Unsatisfied"))
    await bot.press(CITIZEN, ZH("Rate without a comment"))
    assert await state_of(bot) is ReportState.escalated
    assert NUMBER in bot.api.last_message(ADMIN.id)["text"]
    assert NUMBER in texts(await bot.say(ADMIN, "/inbox"))


async def test_extension_request_and_decision(case_bot: Harness) -> None:
    bot = case_bot
    await signed_report(bot)
    reports, _u, _e = await stored(bot)
    due_before = reports[NUMBER].due_at
    assert due_before is not None

    await bot.press(LIAISON, ZH("Request extension"))
    unclear = await bot.say(LIAISON, "需要时间")
    assert "5 需要调取监控录像" in texts(unclear)
    await bot.say(LIAISON, "5 需要调取监控录像")
    request = bot.api.last_message(ADMIN.id)
    assert "需要调取监控录像" in request["text"] and "市公安局" in request["text"]

    # Not an admin: refused, nothing changes.
    reports, _u, _e = await stored(bot)
    await bot.press_data(LIAISON, cb.EXTENSION_DECISION.pack("approve", reports[NUMBER].id or 0))
    assert "作风办" in bot.last_answer()["text"]

    await bot.press(ADMIN, EN("Approve"))
    reports, _u, events = await stored(bot)
    report = reports[NUMBER]
    assert report.due_at is not None and report.due_at > due_before
    assert (report.due_at - due_before) >= timedelta(days=5)
    assert report.extension_used and report.extension_days is None
    assert "5" in bot.api.last_message(LIAISON.id)["text"]
    assert EventKind.extension_approved in [e.kind for e in events]

    # The same notice pressed again, or a second request: refused.
    await bot.press_data(ADMIN, cb.EXTENSION_DECISION.pack("deny", report.id or 0), request)
    await bot.press(LIAISON, ZH("Request extension"))
    again = await bot.say(LIAISON, "3 还需要时间")
    assert ZH(
        "Report {number} has already had its one extension request. Nothing was changed."
    ).format(number=NUMBER) in texts(again)
    reports, _u, _e = await stored(bot)
    assert reports[NUMBER].due_at == report.due_at


async def test_extension_too_late_is_refused(case_bot: Harness) -> None:
    bot = case_bot
    await signed_report(bot)
    reports, _u, _e = await stored(bot)
    due = reports[NUMBER].due_at
    assert due is not None
    bot.clock.now = due - timedelta(hours=2)
    await bot.press(LIAISON, ZH("Request extension"))
    answer = await bot.say(LIAISON, "5 需要调取监控录像")
    assert "前一个工作日" in texts(answer)
    reports, _u, _e = await stored(bot)
    assert not reports[NUMBER].extension_used


async def test_unrated_answers_close_after_the_rating_time(case_bot: Harness) -> None:
    bot = case_bot
    await signed_report(bot)
    await bot.press(LIAISON, ZH("Reply"))
    await bot.say(LIAISON, "已处理。")
    reports, _u, _e = await stored(bot)
    due = reports[NUMBER].due_at
    assert due is not None and reports[NUMBER].due_kind == "rating"

    bot.clock.now = due - timedelta(minutes=1)
    assert await close_unrated_reports(bot.context) == []
    bot.clock.now = due + timedelta(minutes=1)
    assert await close_unrated_reports(bot.context) == [NUMBER]
    reports, _u, events = await stored(bot)
    assert reports[NUMBER].state is ReportState.closed
    assert events[-1].kind is EventKind.closed_unrated

    # The rating buttons of the answer are stale now.
    await bot.press(CITIZEN, ZH("Satisfied"))
    assert await state_of(bot) is ReportState.closed


async def test_case_shows_each_role_its_own_view(case_bot: Harness) -> None:
    bot = case_bot
    await join_leader(bot)
    await signed_report(bot)
    await bot.press(LIAISON, ZH("Request extension"))
    await bot.say(LIAISON, "5 需要调取监控录像")

    office = texts(await bot.say(ADMIN, f"/case {NUMBER.lower()}"))
    assert "需要调取监控录像" in office
    assert f"ID {LIAISON.id}" in office and EN("the reporter") in office
    assert EN("Anonymous") in office

    unit = await bot.say(LIAISON, f"/case {NUMBER}")
    assert "需要调取监控录像" in texts(unit) and "ID " not in texts(unit)
    assert ZH("Reply") in labels(bot.api, unit[-1])
    leader = await bot.say(LEADER, f"/case {NUMBER}")
    assert ZH("extension requested") in texts(leader)
    assert labels(bot.api, leader[-1]) == [], "leaders watch, they do not handle"

    public = texts(await bot.say(CITIZEN, f"/case {NUMBER}"))
    assert NUMBER in public and "需要调取监控录像" not in public

    stranger = FakeUser(904, "Stranger", language_code="en")
    for asked in (NUMBER, "ZF2026-000999"):
        answer = texts(await bot.say(stranger, f"/case {asked}"))
        assert answer == EN("No report {number} that you may see.").format(number=asked)
    assert "/case" in texts(await bot.say(stranger, "/case nonsense"))

    for official in (ADMIN, LIAISON, LEADER):
        sent = html_sent(bot.api, official.id)
        for secret in SECRETS:
            assert secret not in sent, (official.id, secret)


async def test_reporter_hears_acceptance_and_rejection(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await file_report(bot)
    await assign(bot, NUMBER)
    assert (
        ZH(
            "Your report {number} was accepted and passed to the responsible unit. "
            "You will be told when it answers."
        ).format(number=NUMBER)
        in bot.api.last_message(CITIZEN.id)["text"]
    )

    await file_report(bot)
    await open_card(bot)
    await bot.press(ADMIN, EN("Reject"))
    await bot.say(ADMIN, "不属于作风问题，请拨打12345")
    rejected = bot.api.last_message(CITIZEN.id)["text"]
    assert "ZF2026-000002" in rejected and "不属于作风问题，请拨打12345" in rejected


async def test_the_office_closes_an_escalated_report_with_a_note(case_bot: Harness) -> None:
    bot = case_bot
    await signed_report(bot)
    for answer in ("第一次答复", "第二次答复"):
        await bot.press(LIAISON, ZH("Reply"))
        await bot.say(LIAISON, answer)
        await bot.press(CITIZEN, ZH("Unsatisfied"))
        await bot.press(CITIZEN, ZH("Rate without a comment"))
    assert await state_of(bot) is ReportState.escalated

    await open_card(bot)
    await bot.press(ADMIN, EN("Close with a final note"))
    await bot.say(ADMIN, "经作风办复核，处理结果适当，予以办结。")
    assert await state_of(bot) is ReportState.closed
    assert "予以办结" in bot.api.last_message(CITIZEN.id)["text"]
    status = texts(await bot.say(CITIZEN, f"/status {NUMBER}"))
    assert "予以办结" in status


async def test_a_report_about_the_units_leadership_stays_with_the_office(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, admin_ids=[ADMIN.id], routing=RoutingSettings(auto_assign=True)
    )
    await prepare_database(settings.database.url)
    bot = Harness(api=FakeBotApi(), settings=settings)
    await bot.start()
    await join_liaison(bot)
    await fill_until_identity(bot, CITIZEN)
    await bot.press(CITIZEN, ZH("Anonymous"))
    marked = await bot.press(CITIZEN, ZH("Mark: concerns the unit's leadership"))
    assert "涉及单位负责人" in texts(marked)
    assert ZH("Remove the mark: concerns the unit's leadership") in labels(bot.api, marked[-1])
    await bot.press(CITIZEN, ZH("Submit"))

    reports, units, _e = await stored(bot)
    report = reports[NUMBER]
    assert report.leader_involved and units[report.conflict_department_id or 0] == "市公安局"
    assert report.state is ReportState.received, "auto_assign must not send it to the unit"
    assert all(NUMBER not in m.get("text", "") for m in bot.api.sent_messages(LIAISON.id))

    await open_card(bot)
    card = bot.api.last_message(ADMIN.id)
    assert "⚠" in card["text"]
    assert EN("Assign to {unit}").format(unit="市公安局") not in labels(bot.api, card)
    await bot.press_data(
        ADMIN, cb.INBOX_ASSIGN.pack(report.id or 0, report.department_id or 0), card
    )
    assert "leadership" in bot.last_answer()["text"]
    assert await state_of(bot) is ReportState.received
    await bot.stop()
    assert bot.api.violations == []


async def test_withdrawn_links_and_ended_roles_grant_nothing(case_bot: Harness) -> None:
    bot = case_bot
    made = texts(await bot.say(ADMIN, "/invite leader D011"))
    token = LINK.search(made)
    assert token is not None
    await bot.press(ADMIN, EN("Withdraw this link"))
    refused = texts(await bot.say(LEADER, f"/start {token.group(1)}"))
    assert refused == ZH(PROBLEM_MESSAGES[InviteProblem.revoked])
    assert "负责人" not in texts(await bot.say(LEADER, "/whoami"))

    await join_liaison(bot)
    await file_report(bot)
    await assign(bot, NUMBER)
    outsider = FakeUser(906, "Outsider", language_code="en")
    assert "only the campaign office" in texts(await bot.say(outsider, "/revoke D011"))
    listed = await bot.say(ADMIN, "/revoke d011")
    assert any(str(LIAISON.id) in label for label in labels(bot.api, listed[-1]))
    await bot.press(ADMIN, labels(bot.api, listed[-1])[0])
    assert "联络员" not in texts(await bot.say(LIAISON, "/whoami"))

    # The former liaison's buttons are refused on the server; nothing changes.
    await bot.press(LIAISON, ZH("Sign"))
    assert await state_of(bot) is ReportState.assigned
    again = await bot.say(ADMIN, "/revoke D011")
    assert EN("No active roles found for {who}.").format(who="D011") in texts(again)


async def test_an_answer_can_carry_a_file(case_bot: Harness) -> None:
    bot = case_bot
    await signed_report(bot)
    await bot.press(LIAISON, ZH("Reply"))
    wrong = await bot.feed(
        bot.api.document_update(LIAISON, b"MZ\x90\x00", "tool.exe", "application/x-msdownload"),
        LIAISON,
    )
    assert "application/x-msdownload" in texts(wrong)
    bare = await bot.feed(bot.api.photo_update(LIAISON, b"scan-of-the-decision"), LIAISON)
    assert ZH(
        "Please send the file again with the answer as its caption, or type the answer as "
        "text. Or /cancel."
    ) in texts(bare)
    assert await state_of(bot) is ReportState.signed

    await bot.feed(
        bot.api.photo_update(LIAISON, b"scan-of-the-decision", caption="处理决定书见附件。"),
        LIAISON,
    )
    reports, _u, events = await stored(bot)
    assert reports[NUMBER].state is ReportState.replied
    sent = [c for c in bot.api.calls if c.params.get("chat_id") == CITIZEN.id]
    methods = [c.method for c in sent]
    assert methods[-2:] == ["sendPhoto", "sendMessage"]
    assert "处理决定书见附件。" in sent[-1].params["text"]
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        [attachment] = (
            await session.exec(select(Attachment).where(col(Attachment.event_id).is_not(None)))
        ).all()
    await engine.dispose()
    replied = [e for e in events if e.kind is EventKind.replied]
    assert attachment.event_id == replied[-1].id and attachment.kind == "photo"
    assert (bot.settings.attachments_dir / attachment.path).read_bytes() == b"scan-of-the-decision"
