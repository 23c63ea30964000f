"""`zhengfeng campaign init/show` and `zhengfeng export-duties` from the command line."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app
from bot.runtime.i18n import gettext_for
from db.calendar.workdays import WorkCalendar
from db.duties.obligations import DutySpec, create_obligation, file_submission, open_submissions
from db.duties.rules import DueRule
from db.engine import create_engine, session_factory
from db.models import Department, DuePeriod, DutyScope, ObligationKind, Submission

runner = CliRunner()
ZH = gettext_for("zh_CN")
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZHENGFENG_TELEGRAM__TOKEN", raising=False)
    monkeypatch.setenv("ZHENGFENG_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("ZHENGFENG_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.mark.parametrize("command", [["campaign", "init"], ["campaign", "show"], ["export-duties"]])
def test_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_campaign_init_is_idempotent_and_prints_the_phases(workdir: Path) -> None:
    result = runner.invoke(
        app, ["campaign", "init", "--template", "zhengfeng-2011", "--year", "2026"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "2026年政风建设年 (2026)",
        "1. 启动和自查自纠  2026-01-01 – 2026-02-28",
        "2. 集中整治  2026-03-01 – 2026-09-30",
        "3. 巩固成果  2026-10-01 – 2026-10-31",
        "4. 总结验收  2026-11-01 – 2026-12-31",
    ]
    again = runner.invoke(
        app,
        ["campaign", "init", "--template", "zhengfeng-2011", "--year", "2026", "--name", "别名"],
    )
    assert again.exit_code == 0 and again.output == result.output
    with sqlite3.connect(workdir / "cli.db") as db:
        assert db.execute("select count(*) from campaign").fetchone() == (1,)
        assert db.execute("select count(*) from campaign_phase").fetchone() == (4,)
    shown = runner.invoke(app, ["campaign", "show"])
    assert shown.exit_code == 0 and "集中整治" in shown.output


def test_campaign_refusals(workdir: Path) -> None:
    unknown = runner.invoke(app, ["campaign", "init", "--template", "nope"])
    assert unknown.exit_code == 2 and "zhengfeng-2011" in unknown.output
    assert runner.invoke(app, ["campaign", "show"]).exit_code == 2


async def _seed(url: str) -> None:
    engine = create_engine(url)
    now = datetime(2026, 10, 9, 2, tzinfo=UTC)
    async with session_factory(engine)() as session:
        session.add_all(
            [
                Department(code="D001", name="市公安局", kind="department"),
                Department(code="D002", name="市税务局", kind="department"),
            ]
        )
        await session.flush()
        spec = DutySpec(
            ObligationKind.quarterly,
            "季度工作报告",
            DutyScope.all,
            # Created in October, the duty would owe only the fourth quarter: the
            # office asks for the third as well, as its form line 起始 does.
            DueRule(DuePeriod.quarter, days_after=5, starts_on=date(2026, 7, 1)),
        )
        duty = await create_obligation(session, spec, actor_account_id=None, now=now, tz=SHANGHAI)
        assert not isinstance(duty, str)
        await open_submissions(session, now, WorkCalendar({}), SHANGHAI)
        police = (await session.exec(select(Submission))).first()
        assert police is not None and police.id is not None
        await file_submission(
            session,
            police.id,
            department_ids=[police.department_id],
            answers=["无"],
            body=None,
            actor_account_id=None,
            now=now,
        )
        await session.commit()
    await engine.dispose()


def test_export_duties_writes_both_sheets(workdir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    asyncio.run(_seed(f"sqlite+aiosqlite:///{workdir}/cli.db"))
    out = workdir / "duties.xlsx"
    args = ["export-duties", "--from", "2026-10-01", "--to", "2026-12-31", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    workbook = load_workbook(out, read_only=True)
    assert workbook.sheetnames == [ZH("Submissions"), ZH("Ledger")]
    rows = list(workbook.worksheets[0].iter_rows(values_only=True))
    assert [r[2] for r in rows[1:]] == ["D001", "D002"]
    assert rows[1][4] == "2026年第3季度" and rows[1][8] == 1 and rows[2][8] == 0
    assert next(workbook.worksheets[1].iter_rows(values_only=True))[0] == ZH("Item")

    bad = runner.invoke(
        app, [*args[:1], "--from", "2026-12-31", "--to", "2026-10-01", "--out", str(out)]
    )
    assert bad.exit_code == 2
    assert runner.invoke(app, [*args[:-1], str(workdir / "x.csv")]).exit_code == 2
    assert (
        runner.invoke(
            app, ["export-duties", "--from", "soon", "--to", "2026-12-31", "--out", str(out)]
        ).exit_code
        == 2
    )
