"""Triage through the bot: an admin's /inbox, assigning, rejecting and merging reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import Department, Report, ReportEvent, ReportState
from tests.handlers.cases.test_report_flow import fill_until_identity
from tests.harness import Harness, html_sent, labels, make_settings, prepare_database, texts

EN = gettext_for("en")
ADMIN = FakeUser(900, "Admin", language_code="en")
CITIZEN = FakeUser(7654321, "Zhuangsan", username="zhuangsan_secret", language_code="en")
OTHER = FakeUser(902, "Other", language_code="en")


@pytest.fixture
async def admin_bot(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def stored(harness: Harness) -> tuple[dict[str, Report], dict[int, str], list[ReportEvent]]:
    engine = create_engine(harness.settings.database.url)
    async with session_factory(engine)() as session:
        reports = {r.number: r for r in (await session.exec(select(Report))).all()}
        units = {d.id or 0: d.name for d in (await session.exec(select(Department))).all()}
        events = list((await session.exec(select(ReportEvent))).all())
    await engine.dispose()
    return reports, units, events


async def file_anonymous(bot: Harness) -> None:
    await fill_until_identity(bot, CITIZEN)
    await bot.press(CITIZEN, EN("Anonymous"))
    await bot.press(CITIZEN, EN("Submit"))


async def open_card(bot: Harness, number: str = "ZF") -> list[dict[str, Any]]:
    """/inbox, then press the listed report whose button starts with `number` (the first one
    by default): its card with the triage buttons."""
    [listed] = await bot.say(ADMIN, "/inbox")
    for row in bot.api.buttons(listed):
        for label, data in row:
            if label.startswith(number) and data is not None:
                return await bot.press_data(ADMIN, data, listed)
    raise AssertionError(f"{number} is not in the inbox")


def card_of(bot: Harness, number: str) -> dict[str, object]:
    for message in reversed(bot.api.sent_messages(ADMIN.id)):
        if number in str(message.get("text", "")) and bot.api.buttons(message):
            return message
    raise AssertionError(f"no inbox card for {number}")


def card_of_any(bot: Harness, fragment: str) -> dict[str, object]:
    for message in reversed(bot.api.sent_messages(ADMIN.id)):
        if fragment in str(message.get("text", "")):
            assert not bot.api.buttons(message), "the pressed card keeps no buttons"
            return message
    raise AssertionError(f"no message with {fragment!r}")


async def test_triage_assign_reject_merge(admin_bot: Harness) -> None:
    bot = admin_bot
    for _ in range(3):
        await file_anonymous(bot)

    sent_before = len(bot.api.sent_messages(ADMIN.id))
    listed = texts(await bot.say(ADMIN, "/inbox"))
    for number in ("ZF2026-000001", "ZF2026-000002", "ZF2026-000003"):
        assert number in listed
    assert "市公安局" in listed
    assert len(bot.api.sent_messages(ADMIN.id)) == sent_before + 1, "the list is one message"
    await open_card(bot, "ZF2026-000001")
    card = card_of(bot, "ZF2026-000001")
    [assign_data] = [
        d
        for row in bot.api.buttons(card)
        for t, d in row
        if t == EN("Assign to {unit}").format(unit="市公安局")
    ]

    # Assign with the pre-filled button.
    await bot.press_data(ADMIN, str(assign_data), card)
    reports, units, _events = await stored(bot)
    first = reports["ZF2026-000001"]
    assert first.state is ReportState.assigned
    assert units[first.handling_department_id or 0] == "市公安局"
    assert first.due_kind == "sign" and first.due_at is not None
    result = str(card_of_any(bot, "was assigned to").get("text"))
    assert "ZF2026-000001" in result and "市公安局" in result

    # The same (stale) button again: refused, nothing changes.
    version = first.version
    again = await bot.press_data(ADMIN, str(assign_data), card)
    assert "already been handled" in bot.last_answer()["text"]
    assert "already been handled" in texts(again)
    reports, _units, events = await stored(bot)
    assert reports["ZF2026-000001"].version == version
    assert sum(1 for e in events if e.kind == "accepted" and e.report_id == first.id) == 1

    # Reject the second report with a reason.
    await bot.press_data(ADMIN, cb.INBOX_ACTION.pack("reject", reports["ZF2026-000002"].id or 0))
    empty = await bot.say(ADMIN, "   ")
    assert "between 1 and 500" in texts(empty)
    done = await bot.say(ADMIN, "与作风问题无关，请向12345热线反映")
    assert "ZF2026-000002" in texts(done)
    reports, _units, _events = await stored(bot)
    assert reports["ZF2026-000002"].state is ReportState.rejected
    status = texts(await bot.say(CITIZEN, "/status ZF2026-000002"))
    assert "与作风问题无关，请向12345热线反映" in status

    # Merge the third into the first; its own number and unknown numbers are refused.
    await bot.press_data(ADMIN, cb.INBOX_ACTION.pack("merge", reports["ZF2026-000003"].id or 0))
    bad = await bot.say(ADMIN, "ZF2026-000003")
    assert "another existing report" in texts(bad)
    await bot.say(ADMIN, "ZF2026-999999")
    merged = await bot.say(ADMIN, "zf2026-1")
    assert "ZF2026-000003" in texts(merged) and "ZF2026-000001" in texts(merged)
    reports, _units, _events = await stored(bot)
    third = reports["ZF2026-000003"]
    assert third.state is ReportState.merged and third.merged_into_id == first.id

    assert EN("The inbox is empty: no report is waiting for triage.") in texts(
        await bot.say(ADMIN, "/inbox")
    )

    # Nothing about the anonymous reporter ever reached the admin.
    admin_html = html_sent(bot.api, ADMIN.id)
    for secret in (str(CITIZEN.id), CITIZEN.first_name, "zhuangsan_secret"):
        assert secret not in admin_html


async def test_assign_to_another_unit(admin_bot: Harness) -> None:
    bot = admin_bot
    await file_anonymous(bot)
    await open_card(bot)
    await bot.press(ADMIN, EN("Assign to another unit"))
    found = await bot.say(ADMIN, "户政")
    assert "市公安局户政处" in texts(found) or any(
        t == "市公安局户政处" for row in bot.api.buttons(found[-1]) for t, _d in row
    )
    await bot.press(ADMIN, "市公安局户政处")
    reports, units, _events = await stored(bot)
    report = reports["ZF2026-000001"]
    assert report.state is ReportState.assigned
    assert units[report.handling_department_id or 0] == "市公安局户政处"


async def test_refusals(admin_bot: Harness) -> None:
    bot = admin_bot
    await file_anonymous(bot)
    refused = texts(await bot.say(OTHER, "/inbox"))
    assert "only the campaign office" in refused and "ZF2026-000001" not in refused

    await bot.say(OTHER, "/start")
    await bot.press_data(OTHER, cb.INBOX_ASSIGN.pack(1, 1))
    assert "only the campaign office" in bot.last_answer()["text"]

    await bot.say(ADMIN, "/inbox")
    for forged in ("ia:abc:1", "ia:99999:1", "ix:reject:xyz", "ix:bogus:1"):
        await bot.press_data(ADMIN, forged)
        assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    reports, _units, _events = await stored(bot)
    assert reports["ZF2026-000001"].state is ReportState.received


async def test_a_full_inbox_is_one_message_with_pages(admin_bot: Harness) -> None:
    from datetime import UTC, datetime, timedelta

    from db.people.accounts import get_or_create_account
    from tests.factories import file_report

    bot = admin_bot
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        account, _ = await get_or_create_account(session, 7000003, "zh_CN")
        assert account.id is not None
        for i in range(25):
            at = datetime(2026, 3, 2, 1, tzinfo=UTC) + timedelta(minutes=i)
            await file_report(session, account.id, at)
        await session.commit()
    await engine.dispose()

    before = len(bot.api.sent_messages(ADMIN.id))
    [listed] = await bot.say(ADMIN, "/inbox")
    assert len(bot.api.sent_messages(ADMIN.id)) == before + 1
    assert "25" in listed["text"] and "1 of 3" in listed["text"]
    first_page = [t for row in bot.api.buttons(listed) for t, _d in row if t.startswith("ZF")]
    assert len(first_page) == 10 and first_page[0].startswith("ZF2026-000001")

    [second] = await bot.press(ADMIN, EN("Next ▶"))
    assert second["message_id"] == listed["message_id"], "the page changes in place"
    assert "2 of 3" in second["text"] and "ZF2026-000011" in second["text"]
    [third] = await bot.press(ADMIN, EN("Next ▶"))
    assert [t for row in bot.api.buttons(third) for t, _d in row if t.startswith("ZF")] == [
        t for t in (f"ZF2026-0000{n} · {EN('unit not sure')}" for n in range(21, 26))
    ]
    assert EN("Next ▶") not in labels(bot.api, third)

    opened = await bot.press(ADMIN, f"ZF2026-000021 · {EN('unit not sure')}")
    assert "ZF2026-000021" in texts(opened)
    assert EN("Assign to another unit") in labels(bot.api, opened[-1])
    assert bot.api.sent_messages(ADMIN.id)[-2]["message_id"] == listed["message_id"], (
        "the list stays to open the next report"
    )

    for forged in ("ip:abc", "io:abc", "io:999999"):
        await bot.press_data(ADMIN, forged)
        assert bot.last_answer()["text"] == EN("This button is no longer valid.")
