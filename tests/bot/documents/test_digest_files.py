"""The digest's chart, workbook and messages, from the hand-computed month and a few extras."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.digest_files import (
    RowSource,
    render_chart,
    render_workbook,
    sheet_name,
)
from bot.documents.digest_text import department_message, office_message
from bot.runtime.i18n import gettext_for
from bot.runtime.render import MESSAGE_MAX
from db.cases.handling import open_case
from db.cases.rules import Limits
from db.engine import session_factory
from db.models import Department, IdentityMode
from db.office.digest import Digest, ReportRow, ScoreWeights, build_digest, month_report_rows
from tests.db.cases.test_case_metrics import CALENDAR, MON, NOW, TZ, World, _month, _world
from tests.factories import file_report

MARCH = date(2026, 3, 1)
ZH = gettext_for("zh_CN")


async def _digest(session: AsyncSession) -> Digest:
    return await build_digest(
        session, MARCH, NOW, calendar=CALENDAR, tz=TZ, limits=Limits(), weights=ScoreWeights()
    )


async def _extra_reports(session: AsyncSession, world: World) -> None:
    """An anonymous and a fully anonymous report beside the real-name ones of the month.

    Each carries a name and phone in its row anyway (as a bug or an old import might leave
    them): the workbook must still not show them, since the reporter did not choose real name.
    """
    for mode in (IdentityMode.anonymous, IdentityMode.fully_anonymous):
        report = await file_report(
            session, world.reporter_account_id, MON, world.departments[3], mode
        )
        report.reporter_name, report.reporter_phone = "李四", "+8613900000000"
        await open_case(session, report, MON, CALENDAR, Limits(), TZ, auto_assign=True)
    await session.commit()


def test_missing_glyphs_are_detected_at_all() -> None:
    """The check below would pass vacuously if matplotlib stopped warning: prove it warns."""
    from matplotlib.figure import Figure

    figure = Figure()
    figure.suptitle("情况通报", family="DejaVu Sans")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.savefig(BytesIO(), format="png")
    assert any("missing from font" in str(w.message) for w in caught)


async def test_chart_renders_chinese_without_missing_glyphs(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        world = await _world(session)
        await _month(session, world)
        digest = await _digest(session)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_chart(digest, ZH)
    assert [str(w.message) for w in caught if "Glyph" in str(w.message)] == []
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000


def _rows(session: AsyncSession, digest: Digest) -> RowSource:
    def rows(department_ids: list[int] | None) -> AsyncIterator[ReportRow]:
        return month_report_rows(
            session,
            digest,
            calendar=CALENDAR,
            tz=TZ,
            limits=Limits(),
            department_ids=department_ids,
            chunk_size=3,  # several chunks even for this small month
        )

    return rows


async def test_workbook_sheets_totals_and_no_reporter_identity(any_engine: AsyncEngine) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        numbers = await _month(session, world)
        await _extra_reports(session, world)
        digest = await _digest(session)
        data = await render_workbook(digest, _rows(session, digest), ZH, TZ)

    book = load_workbook(BytesIO(data), read_only=True)
    assert book.sheetnames == ["汇总", "部门2", "部门1", "部门0", "部门3", "全部件"]

    summary = list(book["汇总"].iter_rows(values_only=True))
    header = summary[3]
    total = summary[-1]
    assert total[2] == "合计"
    column = {name: i for i, name in enumerate(header)}
    totals = digest.totals
    assert total[column["受理"]] == totals.received == 10
    assert total[column["答复"]] == totals.answered
    assert total[column["超期"]] == totals.overdue_now
    assert total[column["满意率"]] == pytest.approx(totals.satisfaction_rate)
    by_code = {row[1]: row for row in summary[4:-1]}
    # D received only the two anonymous reports, unsigned and overdue: ranked last.
    assert by_code["M2"][column["排名"]] == 1 and by_code["M3"][column["排名"]] == 4

    # A department's sheet lists the reports it received in the month: its `received`.
    for figures in digest.departments:
        rows = list(book[figures.name].iter_rows(values_only=True))
        header_at = rows.index(next(r for r in rows if r and r[0] == "编号"))
        listed = [r[0] for r in rows[header_at + 1 :]]
        assert len(listed) == figures.metrics.received, figures.name

    # Filed in March (local): r1–r6 and r12 on the 16th, r9 on the 2nd, r10 at 23:30 on the
    # 31st, and the two anonymous ones; r7, r8, r13 are January and r11 is 1 April.
    everything = list(book["全部件"].iter_rows(values_only=True))
    head = everything[0]
    # A read-only sheet drops trailing empty cells: pad each row to the header.
    body = [row + (None,) * (len(head) - len(row)) for row in everything[1:]]
    march = ["r1", "r2", "r3", "r4", "r5", "r6", "r9", "r10", "r12"]
    assert sorted(r[0] for r in body[:-2]) == sorted(numbers[name] for name in march)
    assert len(body) == 11
    name_at, phone_at, mode_at = (
        head.index("举报人姓名"),
        head.index("举报人电话"),
        head.index("举报方式"),
    )
    for row in body:
        if row[mode_at] == "实名":
            assert (row[name_at], row[phone_at]) == ("张三", "+8613800138000")
        else:
            assert row[name_at] is None and row[phone_at] is None
    assert sum(row[mode_at] != "实名" for row in body) == 2

    # Nowhere a Telegram id (the accounts are 8001 and 8002) or an anonymous reporter's name.
    cells = [
        str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
        if value is not None
    ]
    assert "8001" not in cells and "8002" not in cells
    assert not [c for c in cells if "李四" in c or "13900000000" in c]
    for sheet in book.worksheets:
        if sheet.title in ("汇总", "部门3"):
            assert "张三" not in [c for r in sheet.iter_rows(values_only=True) for c in r]


def test_sheet_names_follow_excel_rules() -> None:
    taken: set[str] = set()
    assert sheet_name("市发展和改革委员会[试点]:*?/\\", taken) == "市发展和改革委员会_试点______"
    long = "某某市" * 20
    first = sheet_name(long, taken)
    second = sheet_name(long, taken)
    assert len(first) == len(second) == 31 and first != second and second.endswith("~2")
    assert sheet_name("'引号'", taken) == "引号"
    assert sheet_name("History", taken) == "History_"
    assert sheet_name("SUMMARY", {"summary"}) == "SUMMARY~2"
    assert sheet_name("", taken) == "_"


async def test_messages_are_chinese_html_and_short(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        world = await _world(session)
        numbers = await _month(session, world)
        a = world.departments[0]
        department = await session.get(Department, a)
        assert department is not None
        department.name = "<市场监管局>&"
        await session.commit()
        digest = await _digest(session)

    text = department_message(digest, a, ZH)
    assert "&lt;市场监管局&gt;&amp;" in text and "<市场监管局>" not in text
    assert "受理 4 件" in text and "及时签收率 25.0%" in text
    assert numbers["r4"] in text and "超期 1 件" in text
    assert "排名：第 3 名（共 3 个单位）" in text
    office = office_message(digest, ZH)
    assert "红榜" in office and "全市合计" in office and "&lt;市场监管局&gt;" in office
    assert "黑榜" not in office  # three ranked departments are all on the red list
    idle = department_message(digest, world.departments[3], ZH)
    assert "不参与排名" in idle and "满意率 —" in idle
    for message in (text, office, idle):
        assert len(message) <= MESSAGE_MAX


async def test_typed_text_is_never_a_formula(engine: AsyncEngine) -> None:
    """A reporter who names themselves `=HYPERLINK(…)` gets a text cell, not a live formula."""
    async with session_factory(engine)() as session:
        world = await _world(session)
        report = await file_report(
            session, world.reporter_account_id, MON, world.departments[0], IdentityMode.real_name
        )
        report.reporter_name = '=HYPERLINK("http://example.invalid","点我")'
        await open_case(session, report, MON, CALENDAR, Limits(), TZ, auto_assign=True)
        await session.commit()
        digest = await _digest(session)
        data = await render_workbook(digest, _rows(session, digest), ZH, TZ)

    book = load_workbook(BytesIO(data))
    typed = [
        cell
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value.startswith("=HYPERLINK")
    ]
    assert len(typed) == 2  # the unit's sheet and the sheet of every report
    assert all(cell.data_type == "s" for cell in typed)
