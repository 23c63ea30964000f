"""The report flow driven through the bot, in Chinese and English, against the Bot API double."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from types import SimpleNamespace
from typing import cast

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.i18n import gettext_for
from bot.runtime.services import BotContext
from bot.runtime.settings import ReportSettings, RoutingSettings
from bot.runtime.turn import Turn
from db.engine import create_engine, session_factory
from db.models import Account, Attachment, IdentityMode, Report, ReportDraft, ReportState
from db.people.accounts import get_or_create_account
from handlers.cases.report import State, ask
from tests.conftest import NOW
from tests.factories import complete_draft
from tests.harness import (
    Harness,
    html_sent,
    labels,
    make_settings,
    prepare_database,
    texts,
)

ZH = gettext_for("zh_CN")
EN = gettext_for("en")
DESCRIPTION = "市公安局户政窗口工作人员<b>推诿</b> & 要求我反复提交同一份材料，拖了三个星期。"


async def reports(harness: Harness) -> list[Report]:
    engine = create_engine(harness.settings.database.url)
    async with session_factory(engine)() as session:
        rows = list((await session.exec(select(Report))).all())
    await engine.dispose()
    return rows


async def fill_until_identity(bot: Harness, user: FakeUser) -> None:
    english = user.language_code == "en"
    t = EN if english else ZH
    await bot.say(user, "/report")
    await bot.press(user, "Passing the buck" if english else "推诿扯皮")
    found = await bot.say(user, "公安")
    assert "市公安局" in labels(bot.api, found[-1])
    await bot.press(user, "市公安局")
    await bot.say(user, DESCRIPTION)
    await bot.press(user, t("Skip"))
    await bot.press(user, t("Done"))


async def test_real_name_report_in_chinese(bot: Harness) -> None:
    user = FakeUser(id=501, first_name="李", language_code="zh-hans")
    welcome = await bot.say(user, "/start")
    assert ZH("File a report") in labels(bot.api, welcome[-1])

    first = await bot.say(user, "/report")
    assert "推诿扯皮" in labels(bot.api, first[-1])
    await bot.press(user, "推诿扯皮")
    found = await bot.say(user, "公安")
    assert "市公安局" in labels(bot.api, found[-1])
    await bot.press(user, "市公安局")

    short = await bot.say(user, "太短了")
    assert ZH(
        "That is {count} characters; please write at least {min} so the case can be handled."
    ).format(count=3, min=10) in texts(short)
    await bot.say(user, DESCRIPTION)
    await bot.say(user, "3月5日上午，户政窗口")

    photo = b"\xff\xd8\xff\xe0fake-jpeg-evidence"
    got = await bot.feed(bot.api.photo_update(user, photo), user)
    assert ZH("Evidence {count} of at most {max} received.").format(count=1, max=5) in texts(got)
    await bot.press(user, ZH("Done"))
    await bot.press(user, ZH("Real name"))
    await bot.say(user, "李四")
    bad = await bot.say(user, "12345")
    assert "12345" in texts(bad)
    summary = await bot.say(user, "138 0013 8000")
    body = texts(summary)
    # The person's HTML is shown as typed, not interpreted.
    assert "<b>推诿</b> &" in body
    assert "&lt;b&gt;推诿&lt;/b&gt; &amp;" in html_sent(bot.api, user.id)
    assert ZH("Submit") in labels(bot.api, summary[-1])

    done = await bot.press(user, ZH("Submit"))
    assert "ZF2026-000001" in texts(done)
    [report] = await reports(bot)
    assert report.identity_mode == IdentityMode.real_name
    assert report.reporter_phone == "+8613800138000"
    assert report.description == DESCRIPTION
    assert report.time_place == "3月5日上午，户政窗口"
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        [attachment] = (await session.exec(select(Attachment))).all()
        assert await session.get(ReportDraft, 1) is None
    await engine.dispose()
    stored = bot.settings.attachments_dir / attachment.path
    assert stored.read_bytes() == photo
    assert attachment.sha256 == hashlib.sha256(photo).hexdigest()


async def test_anonymous_report_in_english_and_follow_up(bot: Harness) -> None:
    user = FakeUser(id=502, first_name="Ann", language_code="en")
    await fill_until_identity(bot, user)
    await bot.press(user, EN("Anonymous"))
    done = await bot.press(user, EN("Submit"))
    text = texts(done)
    assert "ZF2026-000001" in text
    assert re.search(r"<code>[0-9A-Z]{4}(-[0-9A-Z]{4}){4}</code>", html_sent(bot.api, user.id))

    mine = await bot.say(user, "/myreports")
    assert "ZF2026-000001" in texts(mine)
    status = await bot.say(user, "/status zf2026-1")
    assert "ZF2026-000001" in texts(status) and "市公安局" in texts(status)

    stranger = FakeUser(id=503, first_name="Eve", language_code="en")
    refused = await bot.say(stranger, "/status ZF2026-000001")
    assert "市公安局" not in texts(refused)
    [report] = await reports(bot)
    assert report.reporter_account_id is not None and report.reporter_name is None


async def test_fully_anonymous_report_is_reached_only_by_receipt(bot: Harness) -> None:
    user = FakeUser(id=504, first_name="匿名", language_code="zh-CN")
    await fill_until_identity(bot, user)
    await bot.press(user, ZH("Fully anonymous"))
    done = await bot.press(user, ZH("Submit"))
    assert "ZF2026-000001" in texts(done)
    receipt = re.search(r"<code>([0-9A-Z-]{24})</code>", html_sent(bot.api, user.id))
    assert receipt is not None
    [report] = await reports(bot)
    assert report.reporter_account_id is None

    mine = await bot.say(user, "/myreports")
    assert "ZF2026-000001" not in texts(mine)

    opened = await bot.say(user, f"/receipt {receipt.group(1).lower()}")
    assert "ZF2026-000001" in texts(opened)
    await bot.press(user, ZH("Add information"))
    added = await bot.say(user, "补充：当天值班的是2号窗口。")
    assert "ZF2026-000001" in texts(added)
    again = await bot.say(user, f"/receipt {receipt.group(1)}")
    assert "补充：当天值班的是2号窗口。" in texts(again)
    await bot.press(user, ZH("Close"))


async def test_wrong_receipts_are_refused_and_slowed_down(bot: Harness) -> None:
    user = FakeUser(id=505, first_name="Guess", language_code="en")
    for attempt in range(3):
        answer = await bot.say(user, f"/receipt AAAA-BBBB-CCCC-DDDD-EEE{attempt}")
        assert EN("No report has this receipt code. Please check it and try again.") in texts(
            answer
        )
    blocked = await bot.say(user, "/receipt AAAA-BBBB-CCCC-DDDD-EEEE")
    assert "wait" in texts(blocked)
    assert "No report has this receipt code" not in texts(blocked)
    nonsense = await bot.say(user, "/receipt <script>")
    assert "<script>" not in texts(nonsense) or "wait" in texts(nonsense)


async def test_restart_in_the_middle_continues_where_the_person_was(bot: Harness) -> None:
    user = FakeUser(id=506, first_name="王", language_code="zh-hans")
    await bot.say(user, "/report")
    await bot.press(user, "办事效率低")
    await bot.say(user, "服务中心")
    await bot.press(user, ZH("Not sure"))
    await bot.say(user, DESCRIPTION)
    await bot.crash()

    await bot.start()
    after = await bot.say(user, "上周三下午")  # the answer to the question asked before the crash
    assert ZH("Done") in labels(bot.api, after[-1]), "the flow must continue at the evidence step"
    await bot.press(user, ZH("Done"))
    await bot.press(user, ZH("Anonymous"))
    summary = bot.api.last_message(user.id)
    assert "上周三下午" in summary["text"] and "服务中心" in summary["text"]
    done = await bot.press(user, ZH("Submit"))
    assert "ZF2026-000001" in texts(done)


async def test_idle_timeout_holds_across_a_restart(bot: Harness) -> None:
    from scheduler.cases.idle_drafts import sweep_idle_drafts

    user = FakeUser(id=507, first_name="赵", language_code="zh-hans")
    await bot.say(user, "/report")
    await bot.press(user, "形式主义")
    await bot.crash()
    bot.clock.advance(minutes=bot.settings.conversation.idle_timeout_minutes + 1)
    await bot.start()
    before = len(bot.api.sent_messages(user.id))
    assert await sweep_idle_drafts(bot.context) == 1
    notice = bot.api.sent_messages(user.id)[before:]
    assert str(bot.settings.conversation.idle_timeout_minutes) in texts(notice)
    late = await bot.say(user, "公安")
    assert "/report" in texts(late)
    assert await reports(bot) == []


async def test_cancel_keeps_nothing(bot: Harness) -> None:
    user = FakeUser(id=508, first_name="C", language_code="en")
    await bot.say(user, "/report")
    await bot.press(user, "Formalism")
    await bot.press(user, EN("Not sure"))
    await bot.say(user, "A long enough description of the problem.")
    await bot.press(user, EN("Skip"))
    await bot.feed(bot.api.photo_update(user, b"unique-evidence-to-discard"), user)
    files = list(bot.settings.attachments_dir.rglob("*"))
    assert any(f.is_file() for f in files)
    cancelled = await bot.say(user, "/cancel")
    assert EN("Cancelled. Nothing was kept: the report and its files were discarded.") in texts(
        cancelled
    )
    assert not any(f.is_file() for f in bot.settings.attachments_dir.rglob("*"))
    nothing = await bot.say(user, "/cancel")
    assert EN("There is nothing to cancel. Send /report to file a report.") in texts(nothing)
    after = await bot.say(user, "hello")
    assert "/report" in texts(after)


async def test_bad_input_gets_an_answer_and_loses_nothing(bot: Harness) -> None:
    user = FakeUser(id=509, first_name="B", language_code="en")
    first = await bot.say(user, "/report")
    category_message = first[-1]
    typed = await bot.say(user, "complaint")
    assert EN("Please use the buttons.") in texts(typed)
    assert labels(bot.api, typed[-1]) == labels(bot.api, category_message)

    await bot.press_data(user, "rc:99999")
    assert bot.last_answer().get("text") == EN("That choice is not available. Please choose again.")
    await bot.press_data(user, "rc:1;DROP TABLE report")
    await bot.press(user, "Formalism")
    await bot.press_data(user, "rc:2", category_message)
    assert bot.last_answer().get("text") == EN("This button is no longer valid.")

    no_match = await bot.say(user, "%_%")
    assert "%_%" in texts(no_match)
    await bot.press(user, EN("Not sure"))
    sticker = await bot.feed(bot.api.sticker_update(user), user)
    assert EN("Please answer with text.") in texts(sticker)
    blank = await bot.say(user, "   ")
    assert EN("The text is empty. Please type it again.") in texts(blank)
    too_long = await bot.say(user, "很" * 2001)
    assert "2001" in texts(too_long)
    await bot.say(user, "The clerk asked for a gift before stamping the form.")
    await bot.press(user, EN("Skip"))

    text_instead = await bot.say(user, "here is my evidence")
    assert EN("Please send a photo or a file, or press “Done” to continue.") in texts(text_instead)
    voice = await bot.feed(bot.api.voice_update(user), user)
    assert "voice" in texts(voice)
    zip_file = await bot.feed(
        bot.api.document_update(user, b"PK\x03\x04", "evidence.zip", "application/zip"), user
    )
    assert "application/zip" in texts(zip_file)
    huge = await bot.feed(
        bot.api.document_update(
            user, b"%PDF-1.4 small", "big.pdf", "application/pdf", file_size=50 * 2**20
        ),
        user,
    )
    assert "50.0" in texts(huge)
    for i in range(5):
        await bot.feed(bot.api.photo_update(user, f"photo-{i}".encode()), user)
    sixth = await bot.feed(bot.api.photo_update(user, b"photo-6"), user)
    full = EN(
        "You have already added {max} files, the most one report can carry. "
        "Press “Done” to continue."
    )
    assert full.format(max=5) in texts(sixth)
    await bot.press(user, EN("Done"))
    await bot.press(user, EN("Anonymous"))
    done = await bot.press(user, EN("Submit"))
    assert "ZF2026-000001" in texts(done)

    unknown = await bot.say(user, "/frobnicate")
    assert EN("I do not know that command. Send /help to see what I can do.") in texts(unknown)


async def test_an_old_summary_cannot_submit_a_changed_report(bot: Harness) -> None:
    user = FakeUser(id=510, first_name="E", language_code="en")
    await fill_until_identity(bot, user)
    await bot.press(user, EN("Anonymous"))
    old_summary = bot.api.last_message(user.id)
    await bot.press(user, EN("Edit"))
    await bot.press(user, EN("What happened"))
    await bot.say(user, "A corrected and still long enough description.")
    [old_submit] = [d for row in bot.api.buttons(old_summary) for t, d in row if t == EN("Submit")]
    await bot.press_data(user, old_submit, old_summary)
    assert bot.last_answer().get("text") == EN(
        "That summary is out of date; here is the current one."
    )
    assert await reports(bot) == []
    done = await bot.press(user, EN("Submit"))
    assert "ZF2026-000001" in texts(done)
    [report] = await reports(bot)
    assert report.description == "A corrected and still long enough description."


async def test_a_person_who_blocked_the_bot_loses_nothing(bot: Harness) -> None:
    user = FakeUser(id=511, first_name="F", language_code="zh-hans")
    await bot.say(user, "/report")
    await bot.press(user, "纪律松懈")
    bot.api.block(user.id)
    await bot.press(user, ZH("Not sure"))
    bot.api.unblock(user.id)
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        account = (await session.exec(select(Account).where(Account.telegram_id == 511))).one()
        assert account.unreachable
        draft = await session.get(ReportDraft, account.id)
        assert draft is not None and '"department_unsure": true' in draft.data
    await engine.dispose()
    resumed = await bot.say(user, DESCRIPTION)
    assert ZH("Skip") in labels(bot.api, resumed[-1])


async def test_command_menus_are_set_in_both_languages(bot: Harness) -> None:
    zh = [c["command"] for c in bot.api.commands()]
    en = bot.api.commands(language_code="en")
    assert "report" in zh and "receipt" in zh
    assert {c["description"] for c in en} != {c["description"] for c in bot.api.commands()}


async def test_language_switch(bot: Harness) -> None:
    user = FakeUser(id=512, first_name="L", language_code="fr")
    menu = await bot.say(user, "/start")
    assert ZH("File a report") in labels(bot.api, menu[-1]), "unknown languages get Chinese"
    await bot.say(user, "/lang")
    switched = await bot.press(user, "English")
    assert EN("File a report") in labels(bot.api, switched[-1])
    helped = await bot.say(user, "/help")
    assert "/receipt" in texts(helped)


async def test_a_new_report_always_has_an_owner_and_a_due_time(bot: Harness) -> None:
    user = FakeUser(id=513, first_name="O", language_code="en")
    await fill_until_identity(bot, user)
    await bot.press(user, EN("Anonymous"))
    await bot.press(user, EN("Submit"))
    [report] = await reports(bot)
    assert report.state == ReportState.received
    assert report.owner_kind == "admins" and report.due_at is not None
    assert report.due_at > bot.clock.now


async def test_auto_assign_sends_a_picked_unit_its_report(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, routing=RoutingSettings(auto_assign=True))
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    try:
        user = FakeUser(id=514, first_name="P", language_code="en")
        await fill_until_identity(harness, user)
        await harness.press(user, EN("Anonymous"))
        await harness.press(user, EN("Submit"))
        [report] = await reports(harness)
        assert report.state == ReportState.assigned
        assert report.handling_department_id == report.department_id is not None
        status = await harness.say(user, "/status ZF2026-000001")
        assert EN("Assigned to the unit") in texts(status)
        assert "accepted and assigned to the responsible unit" in texts(status)
    finally:
        await harness.stop()
    assert harness.api.violations == []


async def test_an_intro_opens_the_question_it_comes_with(session: AsyncSession) -> None:
    """The flow's opening words go into the question's own message, whatever was said before
    in the same turn, for every question a report can start or resume at."""
    account, _created = await get_or_create_account(session, 4242, "en")
    services = SimpleNamespace(clock=lambda: NOW, settings=SimpleNamespace(report=ReportSettings()))
    turn = Turn(
        update=cast(Update, None),
        context=cast(BotContext, SimpleNamespace(services=services)),
        session=session,
        account=account,
    )
    draft = await complete_draft(session, IdentityMode.real_name)
    for state in State:
        turn.replies.clear()
        turn.say("An earlier line of the same turn.")
        assert await ask(turn, draft, state, "INTRO") is state
        earlier, question = turn.replies
        assert earlier.text == "An earlier line of the same turn.", state
        assert question.text.startswith("INTRO\n\n") and len(question.text) > 9, state
