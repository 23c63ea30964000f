"""Post-service ratings in the monthly digest: beside the report satisfaction, as a separate
source, in the messages and the workbook, and never in the score."""

from __future__ import annotations

from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.digest_files import render_workbook
from bot.documents.digest_text import department_message, office_message
from bot.runtime.i18n import gettext_for
from db.engine import session_factory
from db.models import Account, ServiceRating, ServiceRatingValue
from tests.bot.documents.test_digest_files import _digest, _rows
from tests.db.cases.test_case_metrics import NOW, TZ, _month, _world

ZH = gettext_for("zh_CN")
S, B, U = ServiceRatingValue.satisfied, ServiceRatingValue.basic, ServiceRatingValue.unsatisfied


async def _rate(session: AsyncSession, department_id: int) -> None:
    """Four March ratings of the unit (3 of them 满意 or 基本满意), one excluded, one in April."""
    accounts = [Account(telegram_id=5000 + i) for i in range(6)]
    session.add_all(accounts)
    await session.flush()
    rows = [
        (S, date(2026, 3, 2), None),
        (B, date(2026, 3, 16), None),
        (U, date(2026, 3, 31), None),
        (S, date(2026, 3, 20), None),
        (U, date(2026, 3, 21), NOW),  # excluded by an admin: not counted
        (U, date(2026, 4, 1), None),  # next month
    ]
    for account, (value, day, excluded) in zip(accounts, rows, strict=True):
        assert account.id is not None
        session.add(
            ServiceRating(
                department_id=department_id,
                account_id=account.id,
                value=value,
                rated_on=day,
                day_key=day.isoformat(),
                created_at=NOW,
                excluded_at=excluded,
            )
        )
    await session.commit()


async def test_service_ratings_beside_the_figures_not_in_the_score(
    any_engine: AsyncEngine,
) -> None:
    async with session_factory(any_engine)() as session:
        world = await _world(session)
        await _month(session, world)
        before = await _digest(session)
        a = world.departments[0]
        await _rate(session, a)
        digest = await _digest(session)
        data = await render_workbook(digest, _rows(session, digest), ZH, TZ)

    figures = digest.service_ratings[a]
    assert (figures.ratings, figures.satisfied, figures.basic, figures.unsatisfied) == (4, 2, 1, 1)
    assert set(digest.service_ratings) == {a}
    assert [(f.code, f.score, f.rank) for f in digest.departments] == [
        (f.code, f.score, f.rank) for f in before.departments
    ], "the score and the ranking are unchanged"
    assert digest.service_rating_totals.ratings == 4

    line = "服务评价满意率（办事后扫码评价，单独统计，不计入得分）：75.0%，共4条，不满意1条"
    assert line in department_message(digest, a, ZH)
    assert "服务评价" not in department_message(digest, world.departments[1], ZH)
    assert line in office_message(digest, ZH)
    assert "服务评价" not in office_message(before, ZH)

    book = load_workbook(BytesIO(data), read_only=True)
    summary = list(book["汇总"].iter_rows(values_only=True))
    column = {name: i for i, name in enumerate(summary[3])}
    by_code = {row[1]: row for row in summary[4:-1]}
    count, rate = column["服务评价条数（不计入得分）"], column["服务评价满意率（不计入得分）"]
    assert by_code["M0"][count] == 4 and by_code["M0"][rate] == pytest.approx(0.75)
    assert by_code["M1"][count] == 0 and by_code["M1"][rate] is None
    assert summary[-1][count] == 4
    sheet = {row[0]: row[1] for row in book["部门0"].iter_rows(values_only=True) if row}
    assert sheet["服务评价满意率（不计入得分）"] == pytest.approx(0.75)
