"""The rectification ledger through the bot: a liaison adds progress with a photo and marks an
item rectified, the office confirms it or reopens it with a reason, and every bad press or input
is refused without changing anything."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.fakeapi import FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.audit import trail
from db.engine import create_engine, session_factory
from db.ledger.items import NewItem, add_item, history_of
from db.models import (
    DutyDraft,
    DutyFile,
    LedgerSource,
    LedgerState,
    LedgerUpdateKind,
    RectificationItem,
)
from db.people.departments import department_by_code
from tests.conftest import NOW
from tests.handlers.cases.test_case_loop import LEADER, join_leader
from tests.handlers.cases.test_casework import ADMIN, LIAISON, OTHER, case_bot, join_liaison
from tests.harness import Harness, html_sent, labels, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
OTHER_LIAISON = FakeUser(904, "小王", language_code="zh-hans")


async def _item(bot: Harness, code: str, description: str) -> int:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        unit = await department_by_code(session, code)
        assert unit is not None and unit.id is not None
        item = await add_item(
            session,
            NewItem(
                unit.id,
                LedgerSource.self_check,
                description,
                NOW + timedelta(days=30),
                owner_name="张科长",
            ),
            actor_account_id=None,
            now=NOW,
        )
        await session.commit()
        assert item.id is not None
        item_id = item.id
    await engine.dispose()
    return item_id


async def _load(bot: Harness, item_id: int) -> tuple[RectificationItem, list[str], int, int]:
    """The item, its history kinds, its evidence files and the drafts left."""
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        item = await session.get(RectificationItem, item_id)
        assert item is not None
        kinds = [u.kind.value for u in await history_of(session, item_id)]
        files = len((await session.exec(select(DutyFile))).all())
        drafts = len((await session.exec(select(DutyDraft))).all())
    await engine.dispose()
    return item, kinds, files, drafts


async def test_progress_with_photo_done_and_confirm(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    first = await _item(bot, "D011", "窗口工作人员<脱岗>现象")
    await _item(bot, "D012", "另一单位的问题")

    listing = texts(await bot.say(LIAISON, "/ledger"))
    assert ZH("Item #{id}").format(id=first) in listing
    assert "窗口工作人员<脱岗>现象" in listing and "张科长" in listing
    assert "另一单位的问题" not in listing
    assert "&lt;脱岗&gt;" in html_sent(bot.api, LIAISON.id)

    progress = ZH("{item}: progress").format(item=ZH("Item #{id}").format(id=first))
    await bot.press(LIAISON, progress)
    # A photo before the note is not a note; an over-long note is refused; nothing is lost.
    await bot.feed(bot.api.photo_update(LIAISON, b"early"), LIAISON)
    assert ZH("Please answer with text, or /cancel.") in texts(bot.api.sent_messages(LIAISON.id))
    too_long = "长" * (bot.settings.duties.max_text_chars + 1)
    assert "3000" in texts(await bot.say(LIAISON, too_long))
    await bot.say(LIAISON, "已约谈相关人员")

    # A restart between two messages loses neither the note nor the position.
    await bot.stop()
    await bot.start()
    await bot.feed(bot.api.sticker_update(LIAISON), LIAISON)
    await bot.feed(bot.api.photo_update(LIAISON, b"evidence-photo"), LIAISON)
    zip_file = bot.api.document_update(LIAISON, b"PK\x03\x04", "x.zip", "application/zip")
    assert "application/zip" in texts(await bot.feed(zip_file, LIAISON))
    await bot.press(LIAISON, ZH("No more files"))
    summary = texts(bot.api.sent_messages(LIAISON.id)[-1:])
    assert "已约谈相关人员" in summary
    await bot.press(LIAISON, ZH("Submit"))

    item, kinds, files, drafts = await _load(bot, first)
    assert kinds == ["created", "progress"] and files == 1 and drafts == 0
    assert item.state is LedgerState.open and item.version == 2

    # The list's old button carries version 1: stale, refused, nothing changes.
    await bot.press_data(LIAISON, cb.LEDGER_ITEM.pack("done", first, 1))
    assert bot.last_answer()["text"] == ZH("This button is no longer valid.")

    card = await bot.say(LIAISON, f"/ledger {first}")
    assert "已约谈相关人员" in texts(card) and "📎" in texts(card)
    done = ZH("{item}: rectified").format(item=ZH("Item #{id}").format(id=first))
    await bot.press(LIAISON, done)
    await bot.say(LIAISON, "已整改完毕，建立考勤制度")
    await bot.press(LIAISON, ZH("No more files"))
    await bot.press(LIAISON, ZH("Submit"))
    item, kinds, _files, _drafts = await _load(bot, first)
    assert item.state is LedgerState.done and kinds[-1] == "done"

    # Done on a done item is refused.
    await bot.press_data(LIAISON, cb.LEDGER_ITEM.pack("done", first, item.version))
    assert bot.last_answer()["text"] == ZH(
        "{item} is not open (now: {state}). Nothing was changed."
    ).format(item=ZH("Item #{id}").format(id=first), state=ZH("done, awaiting confirmation"))

    # The office is told, with confirm/reopen; a liaison forging confirm is refused.
    notice = html_sent(bot.api, ADMIN.id)
    assert (
        EN("{unit} reports {item} as rectified:").format(
            unit="市公安局", item=EN("Item #{id}").format(id=first)
        )
        in notice
    )
    await bot.press_data(LIAISON, cb.LEDGER_ITEM.pack("confirm", first, item.version))
    assert bot.last_answer()["text"] == ZH(
        "Sorry, only the campaign office (admins) can do this. Nothing was changed."
    )
    assert (await _load(bot, first))[0].state is LedgerState.done

    confirm = EN("{item}: confirm").format(item=EN("Item #{id}").format(id=first))
    await bot.press(ADMIN, confirm)
    item, kinds, _files, _drafts = await _load(bot, first)
    assert item.state is LedgerState.confirmed and kinds[-1] == "confirmed"
    told = html_sent(bot.api, LIAISON.id)
    assert (
        ZH("The campaign office confirmed {item} as rectified.").format(
            item=ZH("Item #{id}").format(id=first)
        )
        in told
    )
    # The same confirm pressed again (another admin's copy of the notice) is stale.
    await bot.press_data(ADMIN, cb.LEDGER_ITEM.pack("confirm", first, item.version - 1))
    assert EN("Item #{id}").format(id=first) in bot.last_answer()["text"]
    assert (await _load(bot, first))[0].version == item.version
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        events = await trail(session, subject="D011")
    await engine.dispose()
    assert [e.action for e in events] == ["ledger.confirmed"]


async def test_reopen_with_a_reason_tells_the_liaisons(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    await join_leader(bot)
    item_id = await _item(bot, "D011", "办事效率低")
    label = ZH("Item #{id}").format(id=item_id)
    await bot.say(LIAISON, "/ledger")
    await bot.press(LIAISON, ZH("{item}: rectified").format(item=label))
    await bot.say(LIAISON, "已整改")
    await bot.press(LIAISON, ZH("No more files"))
    await bot.press(LIAISON, ZH("Submit"))

    # The leader reads the ledger but gets no buttons.
    answer = await bot.say(LEADER, "/ledger")
    assert label in texts(answer) and not any(bot.api.buttons(m) for m in answer)
    # Someone without a role is answered as for an unknown number.
    await bot.say(OTHER, "/start")
    unknown = EN("There is no ledger item {number} that you may see.")
    assert texts(await bot.say(OTHER, f"/ledger {item_id}")) == unknown.format(number=item_id)
    assert texts(await bot.say(OTHER, "/ledger 999")) == unknown.format(number=999)
    assert "办事效率低" not in html_sent(bot.api, OTHER.id)
    await bot.press_data(OTHER, cb.LEDGER_ITEM.pack("progress", item_id, 2))
    assert "办事效率低" not in html_sent(bot.api, OTHER.id)

    en_label = EN("Item #{id}").format(id=item_id)
    await bot.press(ADMIN, EN("{item}: reopen").format(item=en_label))
    await bot.feed(bot.api.photo_update(ADMIN, b"x"), ADMIN)
    await bot.say(ADMIN, "整改不到位，群众仍有反映")
    item, kinds, _files, _drafts = await _load(bot, item_id)
    assert item.state is LedgerState.open and item.reopen_count == 1
    assert kinds[-1] == LedgerUpdateKind.reopened.value
    told = html_sent(bot.api, LIAISON.id)
    assert "整改不到位，群众仍有反映" in told
    assert ZH("{item}: progress").format(item=label) in labels(
        bot.api, bot.api.last_message(LIAISON.id)
    )
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        events = await trail(session, subject="D011")
    await engine.dispose()
    assert [e.action for e in events] == ["ledger.reopened"]

    # The office's lists show the open item; a code that names no unit gets an answer.
    assert en_label in texts(await bot.say(ADMIN, "/ledger all"))
    assert en_label in texts(await bot.say(ADMIN, "/ledger d011"))
    assert "D999" in texts(await bot.say(ADMIN, "/ledger D999"))
