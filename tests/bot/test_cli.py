from __future__ import annotations

import sqlite3
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


def test_run_without_token_fails_with_one_clear_line(workdir: Path) -> None:
    result = runner.invoke(app, ["run"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "ZHENGFENG_TELEGRAM__TOKEN" in lines[0]


def test_missing_config_file_is_reported(workdir: Path) -> None:
    result = runner.invoke(app, ["db", "upgrade", "--config", "nope.toml"])
    assert result.exit_code == 2
    assert "nope.toml" in result.output


def test_upgrade_then_sample_import_is_idempotent(workdir: Path) -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(app, ["import-departments", "--sample"])
    assert first.exit_code == 0, first.output
    assert "141" in first.output
    again = runner.invoke(app, ["import-departments", "--sample"])
    assert again.exit_code == 0 and "141" in again.output  # 141 unchanged
    skipped = runner.invoke(app, ["import-departments", "--sample", "--if-empty"])
    assert skipped.exit_code == 0
    with sqlite3.connect(workdir / "cli.db") as db:
        assert db.execute("select count(*) from department").fetchone() == (141,)
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)


def test_bad_csv_imports_nothing_and_lists_problems(workdir: Path) -> None:
    bad = workdir / "bad.csv"
    bad.write_text("code,name,kind,class\nX1,甲单位,department,其他\nX1,乙单位,nonsense,其他\n")
    result = runner.invoke(app, ["import-departments", str(bad)])
    assert result.exit_code == 2
    assert "duplicate_code" in result.output and "bad_kind" in result.output
    with sqlite3.connect(workdir / "cli.db") as db:
        assert db.execute("select count(*) from department").fetchone() == (0,)


def test_unknown_subcommand_and_arguments(workdir: Path) -> None:
    assert runner.invoke(app, ["frobnicate"]).exit_code == 2
    assert runner.invoke(app, ["import-departments"]).exit_code == 2


def test_digest_writes_chart_workbook_and_messages(workdir: Path) -> None:
    assert runner.invoke(app, ["import-departments", "--sample"]).exit_code == 0
    out = workdir / "out"
    result = runner.invoke(app, ["digest", "--month", "2026-03", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "141" in result.output
    assert (out / "digest-2026-03.png").read_bytes().startswith(b"\x89PNG")
    book = load_workbook(out / "digest-2026-03.xlsx", read_only=True)
    assert book.sheetnames[0] == "汇总" and book.sheetnames[-1] == "全部件"
    assert len(book.sheetnames) == 141 + 2
    office = (out / "digest-2026-03-office.html").read_text(encoding="utf-8")
    assert "2026年03月正风行动情况通报" in office and "全市合计" in office
    departments = sorted((out / "digest-2026-03-departments").iterdir())
    assert len(departments) == 141
    assert "本月无受理件" in departments[0].read_text(encoding="utf-8")


@pytest.mark.parametrize("month", ["2026-13", "March", "2026/03", "9999-01"])
def test_digest_refuses_a_bad_month(workdir: Path, month: str) -> None:
    result = runner.invoke(app, ["digest", "--month", month, "--out", str(workdir / "out")])
    assert result.exit_code == 2
    assert month in result.output
    assert not (workdir / "out").exists()
