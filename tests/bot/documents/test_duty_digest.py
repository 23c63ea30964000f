"""The duties in the digest's messages, chart and workbook, in Chinese; and periods in words."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.documents.digest_files import render_chart, render_workbook
from bot.documents.digest_text import department_message, office_message
from bot.runtime.i18n import gettext_for
from bot.runtime.period_text import period_label
from db.cases.rules import Limits
from db.engine import session_factory
from db.office.digest import ScoreWeights, build_digest
from scheduler.deadlines.duties import duty_name
from tests.bot.documents.test_digest_files import _rows
from tests.db.cases.test_case_metrics import CALENDAR, NOW, TZ, _month, _world
from tests.db.duties.test_duty_metrics import _march

ZH = gettext_for("zh_CN")
EN = gettext_for("en")


async def test_texts_chart_and_workbook_show_the_duty_rates(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session:
        world = await _world(session)
        await _month(session, world)
        a, b, c, d = world.departments
        await _march(session, a, b, c)
        await session.commit()
        digest = await build_digest(
            session,
            date(2026, 3, 1),
            NOW,
            calendar=CALENDAR,
            tz=TZ,
            limits=Limits(),
            weights=ScoreWeights(),
        )
        data = await render_workbook(digest, _rows(session, digest), ZH, TZ)

    text = department_message(digest, a, ZH)
    assert "按时报送 2 份 / 应报送 4 份（按时报送率 50.0%）" in text
    assert "整改完成 2 项 / 到期 5 项（整改完成率 40.0%）" in text
    idle = department_message(digest, d, ZH)
    assert "按时报送率 —" in idle and "整改完成率 —" in idle
    office = office_message(digest, ZH)
    assert "按时报送 3 份 / 应报送 5 份（按时报送率 60.0%）" in office
    assert "整改完成 3 项 / 到期 6 项（整改完成率 50.0%）" in office
    assert "Submissions on time: 50.0% (2 of 4 due)" in department_message(digest, a, EN)

    book = load_workbook(BytesIO(data), read_only=True)
    summary = list(book["汇总"].iter_rows(values_only=True))
    column = {name: i for i, name in enumerate(summary[3])}
    by_code = {row[1]: row for row in summary[4:-1]}
    assert by_code["M0"][column["应报送"]] == 4
    assert by_code["M0"][column["按时报送率"]] == pytest.approx(0.5)
    assert by_code["M0"][column["整改完成率"]] == pytest.approx(0.4)
    assert by_code["M3"][column["按时报送率"]] is None
    assert summary[-1][column["整改完成率"]] == pytest.approx(0.5)
    sheet = {row[0]: row[1] for row in book["部门0"].iter_rows(values_only=True) if row}
    assert sheet["按时报送率"] == pytest.approx(0.5) and sheet["到期整改事项"] == 5

    assert render_chart(digest, ZH).startswith(b"\x89PNG")


def test_periods_in_words() -> None:
    assert period_label("2026-Q4", ZH) == "2026年第4季度"
    assert period_label("2026-Q4", EN) == "Q4 2026"
    assert period_label("2026-H2", ZH) == "2026年下半年"
    assert period_label("2026-03", ZH) == "2026年3月"
    assert period_label("once", ZH) == "一次性"
    assert duty_name("实施方案", "once", ZH) == "<b>实施方案</b>"
    assert period_label("2026-Q9", ZH) == "2026-Q9"
