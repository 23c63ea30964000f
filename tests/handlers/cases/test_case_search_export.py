"""/cases and /export through the bot: permissions, filters, paging and the workbook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

from openpyxl import load_workbook
from sqlmodel import select

from bot.fakeapi import FakeUser
from bot.runtime import callbacks as cb
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import AuditEvent, Department, IdentityMode, ReportState
from db.people.accounts import get_or_create_account
from tests.factories import file_report
from tests.handlers.cases.test_casework import ADMIN, case_bot
from tests.harness import Harness, labels, texts

__all__ = ["case_bot"]

EN = gettext_for("en")
STRANGER = FakeUser(939, "Stranger", language_code="en")
REPORTER = 7000001
REFUSAL = "Sorry, only the campaign office (admins) can do this. Nothing was changed."


async def seed(bot: Harness, count: int, *, mode: IdentityMode = IdentityMode.anonymous) -> None:
    """`count` reports about 市公安局 filed on 2026-03-02, an hour apart; the first two signed."""
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        police = (await session.exec(select(Department).where(Department.code == "D011"))).one()
        account, _ = await get_or_create_account(session, REPORTER, "zh_CN")
        assert account.id is not None
        for i in range(count):
            at = datetime(2026, 3, 2, 1, tzinfo=UTC) + timedelta(hours=i)
            report = await file_report(session, account.id, at, police.id, mode)
            if i < 2:
                report.state = ReportState.signed
                report.handling_department_id = police.id
                session.add(report)
        await session.commit()
    await engine.dispose()


async def audit_actions(bot: Harness) -> list[tuple[str, str]]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        found = [(e.action, e.subject) for e in (await session.exec(select(AuditEvent))).all()]
    await engine.dispose()
    return found


async def test_cases_filters_and_pages(case_bot: Harness) -> None:
    bot = case_bot
    await seed(bot, 12)
    assert EN(REFUSAL) in texts(await bot.say(STRANGER, "/cases"))
    await bot.press_data(STRANGER, cb.CASES_PAGE.pack(1, "-", "-", "-", "-", "-"))
    assert bot.last_answer()["text"] == EN(REFUSAL)

    first = await bot.say(ADMIN, "/cases")
    page = texts(first)
    assert "12 found, page 1 of 2" in page
    assert "/case ZF2026-000012" in page and "/case ZF2026-000003" in page
    assert "/case ZF2026-000002" not in page
    assert labels(bot.api, first[-1]) == [EN("Next ▶")]
    second = await bot.press(ADMIN, EN("Next ▶"))
    assert "page 2 of 2" in texts(second) and "/case ZF2026-000001" in texts(second)
    assert labels(bot.api, second[-1]) == [EN("◀ Previous")]

    signed = texts(await bot.say(ADMIN, "/cases state=signed unit=D011 month=2026-03"))
    assert "2 found" in signed and "ZF2026-000002" in signed and "ZF2026-000003" not in signed
    assert "0 found" in texts(await bot.say(ADMIN, "/cases overdue"))
    assert "0 found" in texts(await bot.say(ADMIN, "/cases month=2026-02"))
    assert "is not a report state" in texts(await bot.say(ADMIN, "/cases state=done"))
    assert "No unit has the code" in texts(await bot.say(ADMIN, "/cases unit=Q1"))

    # A page button past the end (the list shrank) shows the last page; a forged one is refused.
    await bot.press_data(ADMIN, cb.CASES_PAGE.pack(7, "-", "-", "-", "-", "-"))
    assert "page 2 of 2" in bot.api.last_message(ADMIN.id)["text"]
    await bot.press_data(ADMIN, "csp:1:nope:-:-:-:-")
    assert bot.last_answer()["text"] == EN("This button is no longer valid.")


async def test_export_permissions_and_bad_months(case_bot: Harness) -> None:
    bot = case_bot
    assert EN(REFUSAL) in texts(await bot.say(STRANGER, "/export 2026-03"))
    assert "YYYY-MM" in texts(await bot.say(ADMIN, "/export March"))
    assert "has not started" in texts(await bot.say(ADMIN, "/export 2027-01"))
    assert await audit_actions(bot) == []
    assert not (bot.settings.data_dir / "exports").exists()


async def test_export_takes_one_month_only(case_bot: Harness) -> None:
    """Two words are no month: the admin gets the usage with last month as the example."""
    bot = case_bot
    answer = texts(await bot.say(ADMIN, "/export 2026-03 2026-04"))
    assert "YYYY-MM" in answer and "/export 2026-" in answer
    assert not (bot.settings.data_dir / "exports").exists()


def workbook_rows(bot: Harness, month: str) -> list[tuple[object, ...]]:
    documents = [
        c.params
        for c in bot.api.calls
        if c.method == "sendDocument" and c.params.get("chat_id") == ADMIN.id
    ]
    assert documents, "no workbook was sent"
    [path] = list((bot.settings.data_dir / "exports").glob(f"reports-{month}-*.xlsx"))
    sheet = load_workbook(BytesIO(path.read_bytes()), read_only=True).worksheets[0]
    rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    width = len(rows[0])
    # A write-only sheet leaves trailing empty cells out of a row.
    return [row + (None,) * (width - len(row)) for row in rows]


async def test_export_of_an_empty_month_has_the_headers(case_bot: Harness) -> None:
    bot = case_bot
    await seed(bot, 2)
    answer = texts(await bot.say(ADMIN, "/export"))  # last month: February, no reports
    assert "2026-02: 0" in answer
    rows = workbook_rows(bot, "2026-02")
    assert rows == [tuple(EN(h) for h in ("Number", "Filed", "Assigned", "Category", "Unit",
        "State", "Due", "Signed on time", "Answered on time", "Rating", "Identity",
        "Reporter name", "Reporter phone"))]  # fmt: skip
    assert ("export.reports", "export:2026-02") in await audit_actions(bot)


async def test_export_shows_identity_only_for_real_name(case_bot: Harness) -> None:
    bot = case_bot
    await seed(bot, 2, mode=IdentityMode.anonymous)
    await seed(bot, 1, mode=IdentityMode.real_name)
    await bot.say(ADMIN, "/export 2026-03")
    header, *rows = workbook_rows(bot, "2026-03")
    assert len(rows) == 3
    by_number = {row[0]: row for row in rows}
    name, phone = header.index(EN("Reporter name")), header.index(EN("Reporter phone"))
    assert by_number["ZF2026-000001"][name] is None and by_number["ZF2026-000001"][phone] is None
    assert by_number["ZF2026-000003"][name] == "张三"
    assert by_number["ZF2026-000003"][phone] == "+8613800138000"
    everything = " ".join(str(v) for row in rows for v in row)
    assert str(REPORTER) not in everything
