"""`/duties status` numbers its duties by the matrix's columns: a duty that has no open period
(here: its submissions removed) has no column, so the duty after it must not take its number;
and the Chinese line reads with Chinese punctuation."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import select

from db.duties.obligations import DutySpec, create_obligation
from db.duties.rules import DueRule
from db.models import DuePeriod, DutyScope, ObligationKind, Submission
from tests.handlers.duties.test_duty_office import (
    ADMIN,
    QUARTERLY_FORM,
    office_bot,
    run_db,
)
from tests.harness import Harness, texts

__all__ = ["office_bot"]


async def test_a_duty_without_a_period_takes_no_column_number(office_bot: Harness) -> None:
    bot = office_bot

    async def unopened(session: Any) -> None:
        spec = DutySpec(
            kind=ObligationKind.plan,
            title="尚未开放的方案",
            scope=DutyScope.all,
            rule=DueRule(DuePeriod.once, due_on=date(2026, 12, 20)),
        )
        await create_obligation(
            session, spec, actor_account_id=None, now=bot.clock.now, tz=bot.settings.tz
        )

    await run_db(bot, unopened)
    await bot.say(ADMIN, QUARTERLY_FORM)

    async def unopen(session: Any) -> None:
        for row in (
            await session.exec(select(Submission).where(Submission.obligation_id == 1))
        ).all():
            await session.delete(row)

    await run_db(bot, unopen)
    await bot.say(ADMIN, "/lang")
    await bot.press(ADMIN, "简体中文")
    matrix = texts(await bot.say(ADMIN, "/duties status"))
    assert "尚未开放的方案" not in matrix
    line = next(x for x in matrix.splitlines() if "2026年作风建设季度工作报告" in x)
    assert line.startswith("1. #2 2026年作风建设季度工作报告（2026年第1季度）：⏳"), line
    header = matrix.splitlines()[matrix.splitlines().index(line) + 2]
    assert header == "1", matrix
