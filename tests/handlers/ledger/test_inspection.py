"""Inspections (明察暗访) through the bot: an admin records a finding against a unit; it becomes a
ledger item with its evidence, the unit's liaisons are told, the office's audit trail has it;
bad dates, wrong media and non-admins are refused; /ledger from turns a closed report into an
item."""

from __future__ import annotations

from sqlmodel import select

from bot.runtime.i18n import gettext_for
from db.audit import trail
from db.engine import create_engine, session_factory
from db.models import DutyDraft, DutyFile, LedgerSource, RectificationItem, Report, ReportState
from tests.handlers.cases.test_casework import (
    ADMIN,
    LIAISON,
    OTHER,
    assign,
    case_bot,
    file_anonymous,
    join_liaison,
)
from tests.harness import Harness, html_sent, labels, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
ZH = gettext_for("zh_CN")


async def _stored(bot: Harness) -> tuple[list[RectificationItem], int, int, list[str]]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        items = list((await session.exec(select(RectificationItem))).all())
        files = len((await session.exec(select(DutyFile))).all())
        drafts = len((await session.exec(select(DutyDraft))).all())
        actions = [e.action for e in await trail(session, subject="D011")]
    await engine.dispose()
    return items, files, drafts, actions


async def test_an_inspection_becomes_a_ledger_item(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await bot.say(OTHER, "/start")
    assert EN("Sorry, only the campaign office (admins) can do this. Nothing was changed.") in (
        texts(await bot.say(OTHER, "/inspect"))
    )

    await bot.say(ADMIN, "/inspect")
    await bot.say(ADMIN, "公安局")
    await bot.press(ADMIN, "市公安局")
    await bot.say(ADMIN, "随便打字")  # a button is expected
    assert EN("Please use the buttons.") in texts(bot.api.sent_messages(ADMIN.id)[-2:])
    await bot.press(ADMIN, "Passing the buck")
    await bot.say(ADMIN, "暗访发现窗口<人员>玩手机")

    # A restart in the middle continues at the evidence step.
    await bot.stop()
    await bot.start()
    voice = await bot.feed(bot.api.voice_update(ADMIN), ADMIN)
    assert "cannot be used as evidence" in texts(voice)
    await bot.feed(bot.api.photo_update(ADMIN, b"inspection-photo"), ADMIN)
    await bot.feed(
        bot.api.document_update(ADMIN, b"%PDF-1.4", "记录.pdf", "application/pdf"), ADMIN
    )
    await bot.press(ADMIN, EN("No more files"))

    for bad, problem in (
        ("下个月", "I cannot read that date"),
        ("2026-02-30", "I cannot read that date"),
        ("2026-03-01", "already passed"),
        ("3月1日", "already passed"),
    ):
        assert problem in texts(await bot.say(ADMIN, bad)), bad
    summary = texts(await bot.say(ADMIN, "2026/12/31"))
    assert "2026-12-31" in summary and "市公安局" in summary
    await bot.press(ADMIN, EN("Submit"))

    items, files, drafts, actions = await _stored(bot)
    [item] = items
    assert item.source is LedgerSource.inspection
    assert item.description == "暗访发现窗口<人员>玩手机"
    assert files == 2 and drafts == 0 and actions == ["ledger.inspection"]
    told = html_sent(bot.api, LIAISON.id)
    assert "暗访发现窗口&lt;人员&gt;玩手机" in told
    progress = ZH("{item}: progress").format(item=ZH("Item #{id}").format(id=item.id))
    assert progress in labels(bot.api, bot.api.last_message(LIAISON.id))
    assert ZH("Item #{id}").format(id=item.id) in texts(await bot.say(LIAISON, "/ledger"))


async def test_cancel_discards_the_inspection(case_bot: Harness) -> None:
    bot = case_bot
    await bot.say(ADMIN, "/inspect")
    await bot.say(ADMIN, "D011")
    await bot.press(ADMIN, "市公安局")
    await bot.press(ADMIN, "Passing the buck")
    await bot.say(ADMIN, "发现问题")
    await bot.feed(bot.api.photo_update(ADMIN, b"to-be-discarded"), ADMIN)
    await bot.say(ADMIN, "/cancel")
    items, files, drafts, _actions = await _stored(bot)
    assert items == [] and files == 0 and drafts == 0
    assert not [p for p in bot.settings.attachments_dir.rglob("*") if p.is_file()]


async def test_a_closed_report_becomes_an_item(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await file_anonymous(bot)
    assert EN("Report {number} is not closed yet; its unit is still handling it.").format(
        number="ZF2026-000001"
    ) in texts(await bot.say(ADMIN, "/ledger from ZF2026-000001 2026-12-31 整改"))
    await assign(bot, "ZF2026-000001")
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        report = (await session.exec(select(Report))).one()
        report.state = ReportState.closed
        session.add(report)
        await session.commit()
    await engine.dispose()
    assert "already passed" in texts(
        await bot.say(ADMIN, "/ledger from ZF2026-000001 2026-03-01 整改")
    )
    assert "/ledger from" in texts(await bot.say(ADMIN, "/ledger from ZF2026-000001 2026-12-31"))
    done = texts(await bot.say(ADMIN, "/ledger from ZF2026-000001 2026-12-31 回访承诺整改"))
    assert "ZF2026-000001" in done
    items, _files, _drafts, actions = await _stored(bot)
    [item] = items
    assert item.source is LedgerSource.report and item.report_id is not None
    assert actions[0] == "ledger.report"
    assert "回访承诺整改" in html_sent(bot.api, LIAISON.id)
    assert "There is no report" in texts(
        await bot.say(ADMIN, "/ledger from ZF2026-000099 2026-12-31 x")
    )
    # A unit deactivated since has nobody to keep a new item.
    await bot.say(ADMIN, "/unit_off D011")
    inactive = texts(await bot.say(ADMIN, "/ledger from ZF2026-000001 2026-12-31 再次整改"))
    assert "inactive" in inactive and "/unit_on" in inactive
    assert len((await _stored(bot))[0]) == 1
