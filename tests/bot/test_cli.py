from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
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
