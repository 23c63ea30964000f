"""/broadcast through the bot: audience, text, preview, confirm, delivery and the report."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.fakeapi import FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.delivery.broadcasts import TEXT_MAX
from db.engine import create_engine, session_factory
from db.models import AuditEvent, Broadcast, Department, DepartmentKind, OutboxMessage
from scheduler.delivery.broadcast_report import report_broadcasts
from tests.handlers.cases.test_casework import ADMIN
from tests.handlers.people.test_roles_flow import LINK
from tests.harness import Harness, labels, texts
from tests.scheduler.delivery.test_outbox import office, sender_of

__all__ = ["office"]

EN = gettext_for("en")
ZH = gettext_for("zh_CN")
POLICE = FakeUser(921, "公安联络员", language_code="zh-hans")  # D011 市公安局, 执法监督
CITY = FakeUser(922, "城管联络员", language_code="zh-hans")  # D010 市城管行政执法局, 执法监督
PLANNING = FakeUser(923, "Planning", language_code="en")  # D001 市发改委, 经济管理
STRANGER = FakeUser(929, "Stranger", language_code="en")
NOTICE = "请各单位于3月20日前报送<自查报告>。"


async def join(bot: Harness, user: FakeUser, code: str) -> None:
    answer = texts(await bot.say(ADMIN, f"/invite liaison {code}"))
    match = LINK.search(answer)
    assert match, answer
    await bot.say(user, f"/start {match.group(1)}")


async def liaisons(bot: Harness) -> None:
    await bot.say(ADMIN, "/start")
    await join(bot, POLICE, "D011")
    await join(bot, CITY, "D010")
    await join(bot, PLANNING, "D001")


async def stored(bot: Harness) -> tuple[list[Broadcast], list[OutboxMessage], list[AuditEvent]]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        broadcasts = list((await session.exec(select(Broadcast))).all())
        outbox = [
            r
            for r in (await session.exec(select(OutboxMessage))).all()
            if r.dedupe_key.startswith("broadcast")
        ]
        audit = list(
            (
                await session.exec(select(AuditEvent).where(AuditEvent.action == "broadcast.send"))
            ).all()
        )
    await engine.dispose()
    return broadcasts, outbox, audit


def got_notice(bot: Harness, user: FakeUser) -> int:
    return sum(1 for m in bot.api.sent_messages(user.id) if "自查报告" in m.get("text", ""))


async def test_only_admins_may_broadcast(office: Harness) -> None:
    bot = office
    await liaisons(bot)
    refusal = "Sorry, only the campaign office (admins) can do this. Nothing was changed."
    for user, t in ((STRANGER, EN), (POLICE, ZH)):
        assert t(refusal) in texts(await bot.say(user, "/broadcast all"))
    # A forged audience or send button from a non-admin changes nothing either.
    await bot.press_data(STRANGER, cb.BROADCAST_AUDIENCE.pack("all", "-"))
    assert "only the campaign office" in bot.last_answer()["text"]
    await bot.press_data(STRANGER, cb.BROADCAST_SEND.pack("send", "abcd1234"))
    assert "only the campaign office" in bot.last_answer()["text"]
    await bot.say(STRANGER, NOTICE)
    assert await stored(bot) == ([], [], [])


async def test_preview_confirm_deliver_and_report(office: Harness) -> None:
    bot = office
    await liaisons(bot)
    asked = await bot.say(ADMIN, "/broadcast")
    assert labels(bot.api, asked[-1])[0] == EN("All liaisons")
    assert "执法监督" in labels(bot.api, asked[-1])
    await bot.press(ADMIN, "执法监督")

    empty = texts(await bot.say(ADMIN, "   "))
    assert EN("The notice is empty. Please type its text, or /cancel.") in empty
    too_long = texts(await bot.say(ADMIN, "长" * (TEXT_MAX + 1)))
    assert str(TEXT_MAX) in too_long and str(TEXT_MAX + 1) in too_long

    preview = await bot.say(ADMIN, NOTICE)
    assert "2 liaisons" in texts(preview)
    assert "&lt;自查报告&gt;" in str(bot.api.calls[-1].params.get("text"))
    assert labels(bot.api, preview[-1]) == [EN("Send"), EN("Cancel")]
    assert await stored(bot) == ([], [], []), "nothing is stored before Send"

    sent = await bot.press(ADMIN, EN("Send"))
    assert "Broadcast #1" in texts(sent)
    broadcasts, outbox, audit = await stored(bot)
    assert [(b.audience, b.recipients, b.text) for b in broadcasts] == [
        ("class:执法监督", 2, NOTICE)
    ]
    assert sorted(r.dedupe_key for r in outbox) == [
        f"broadcast:1:{POLICE.id}",
        f"broadcast:1:{CITY.id}",
    ]
    assert all(not r.urgent for r in outbox)
    assert json.loads(audit[0].after or "{}")["recipients"] == 2

    # The same button again (its answer lost, say) sends nothing more and says so truthfully;
    # a forged nonce sends nothing either.
    preview_message = preview[-1]
    send_data = str(bot.api.buttons(preview_message)[0][0][1] or "")
    await bot.press_data(ADMIN, send_data)
    assert "Broadcast #1 was already sent" in bot.last_answer()["text"]
    assert "2 liaisons" in bot.last_answer()["text"]
    await bot.press_data(ADMIN, send_data.rsplit(":", 1)[0] + ":forged")
    assert "no longer valid" in bot.last_answer()["text"]

    sender = sender_of(bot)
    await sender.drain_once()
    await sender.drain_once()
    assert got_notice(bot, POLICE) == 1 and got_notice(bot, CITY) == 1
    assert got_notice(bot, PLANNING) == 0
    assert (
        ZH("<b>Notice from the campaign office</b>\n\n{text}")
        .split("\n")[0]
        .replace("<b>", "")
        .replace("</b>", "")
        in bot.api.last_message(POLICE.id)["text"]
    )

    assert await report_broadcasts(bot.context.services, bot.clock.now) == 1
    assert await report_broadcasts(bot.context.services, bot.clock.now) == 0
    await sender.drain_once()
    report = bot.api.last_message(ADMIN.id)["text"]
    assert "Broadcast #1: delivered 2, unreachable (blocked the bot) 0, still pending 0" in report
    broadcasts, outbox, audit = await stored(bot)
    assert broadcasts[0].reported_at is not None and len(outbox) == 3


async def test_a_blocked_liaison_is_reported_unreachable(office: Harness) -> None:
    bot = office
    await liaisons(bot)
    bot.api.block(CITY.id)
    await bot.say(ADMIN, "/broadcast all")
    assert "3 liaisons" in texts(await bot.say(ADMIN, NOTICE))
    await bot.press(ADMIN, EN("Send"))
    assert await report_broadcasts(bot.context.services, bot.clock.now) == 0, "not done yet"
    sender = sender_of(bot)
    await sender.drain_once()
    await sender.drain_once()
    assert got_notice(bot, POLICE) == 1 and got_notice(bot, PLANNING) == 1
    assert await report_broadcasts(bot.context.services, bot.clock.now) == 1
    await sender.drain_once()
    reports = [m["text"] for m in bot.api.sent_messages(ADMIN.id) if "Broadcast #1:" in m["text"]]
    assert reports == [
        "Broadcast #1: delivered 2, unreachable (blocked the bot) 1, still pending 0."
    ]

    # A second broadcast: the liaison known to be blocked is counted, never sent to.
    await bot.say(ADMIN, "/broadcast D010")
    preview = texts(await bot.say(ADMIN, NOTICE))
    assert "1 liaisons" in preview and "1 of them blocked the bot" in preview
    await bot.press(ADMIN, EN("Send"))
    broadcasts, _outbox, _audit = await stored(bot)
    assert broadcasts[1].recipients == 0 and broadcasts[1].unreachable == 1
    assert await report_broadcasts(bot.context.services, bot.clock.now) == 1
    await sender.drain_once()
    assert (
        "Broadcast #2: delivered 0, unreachable (blocked the bot) 1"
        in (bot.api.last_message(ADMIN.id)["text"])
    )


async def test_bad_audiences_cancel_and_a_newer_draft(office: Harness) -> None:
    bot = office
    await liaisons(bot)
    bad = await bot.say(ADMIN, "/broadcast class 不存在")
    assert "Usage: /broadcast" in texts(bad) and EN("All liaisons") in labels(bot.api, bad[-1])
    await bot.press(ADMIN, EN("One unit (type its code)"))
    assert "has the code" in texts(await bot.say(ADMIN, "X999"))
    assert "1 liaisons" in texts(await bot.say(ADMIN, "d011"))
    await bot.say(ADMIN, "第一条")
    first_preview = bot.api.last_message(ADMIN.id)
    await bot.say(ADMIN, "/broadcast all")
    await bot.say(ADMIN, NOTICE)
    # The first preview's Send belongs to a replaced draft: refused, nothing stored.
    [[(_label, data), _cancel]] = bot.api.buttons(first_preview)
    await bot.press_data(ADMIN, str(data), first_preview)
    assert "no longer valid" in bot.last_answer()["text"]
    assert (await stored(bot))[0] == []
    cancelled = await bot.press(ADMIN, EN("Cancel"))
    assert EN("Cancelled. Nothing was sent.") in texts(cancelled)
    await bot.press_data(ADMIN, cb.BROADCAST_SEND.pack("send", "zzzz"))
    assert (await stored(bot))[0] == []
    assert await report_broadcasts(bot.context.services, bot.clock.now) == 0


async def test_a_class_too_long_for_a_button_is_left_to_the_command(office: Harness) -> None:
    bot = office
    long_class = "综合执法与市场监督管理服务保障类单位名称"  # 20 characters, 60 bytes in UTF-8
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        session.add(
            Department(
                code="L1", name="长类单位", kind=DepartmentKind.department, dept_class=long_class
            )
        )
        await session.commit()
    await engine.dispose()
    asked = await bot.say(ADMIN, "/broadcast")
    assert long_class not in labels(bot.api, asked[-1])
    assert "执法监督" in labels(bot.api, asked[-1])
    answer = texts(await bot.say(ADMIN, f"/broadcast class {long_class}"))
    assert "There is no liaison among" in answer
