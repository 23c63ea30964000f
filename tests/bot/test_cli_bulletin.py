"""`zhengfeng bulletin --quarter 2026-Q4 --out DIR`: the chart, the workbook and the message."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZHENGFENG_TELEGRAM__TOKEN", raising=False)
    monkeypatch.setenv("ZHENGFENG_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    return tmp_path


def test_bulletin_writes_chart_workbook_and_message(workdir: Path) -> None:
    assert runner.invoke(app, ["import-departments", "--sample"]).exit_code == 0
    out = workdir / "out"
    result = runner.invoke(app, ["bulletin", "--quarter", "2026-Q1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2026-Q1" in result.output and str(out) in result.output
    assert (out / "bulletin-2026-Q1.png").read_bytes().startswith(b"\x89PNG")
    book = load_workbook(out / "bulletin-2026-Q1.xlsx", read_only=True)
    assert book.sheetnames == ["排名", "各项指标", "权重"]
    office = (out / "bulletin-2026-Q1-office.html").read_text(encoding="utf-8")
    assert "2026年第1季度作风建设季度通报" in office


@pytest.mark.parametrize("quarter", ["2026-Q5", "2026-4", "Q4"])
def test_bulletin_refuses_a_bad_quarter(workdir: Path, quarter: str) -> None:
    result = runner.invoke(app, ["bulletin", "--quarter", quarter, "--out", str(workdir / "o")])
    assert result.exit_code == 2
    assert quarter in result.output and not (workdir / "o").exists()
