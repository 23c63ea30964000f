"""`zhengfeng bulletin --quarter 2026-Q4 --out DIR`: the chart, the workbook and the message."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


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


def test_web_serves_the_public_page_until_stopped(workdir: Path) -> None:
    """`zhengfeng web --host --port`: the public page alone, from the database, in a process."""
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from bot.cli import app; app()"]
    server = subprocess.Popen(
        [*command, "web", "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answer = None
        for _ in range(150):  # 15 s at most
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        assert answer is not None, "zhengfeng web did not answer"
        assert answer.status_code == 200 and 'lang="zh-CN"' in answer.text
        assert "尚未公布" in answer.text, "nothing is published in a new database"
        assert httpx.get(f"http://127.0.0.1:{port}/q/2026-Q1", timeout=2).status_code == 404
    finally:
        server.send_signal(signal.SIGTERM)
        _, errors = server.communicate(timeout=15)
    # uvicorn shuts down gracefully, then lets the signal end the process as it would have.
    assert server.returncode in (0, -signal.SIGTERM), errors.decode()
    assert b"Traceback" not in errors


@pytest.mark.parametrize("revision", [None, "0016"])
def test_web_refuses_a_database_behind_and_leaves_it_as_it_is(
    workdir: Path, revision: str | None
) -> None:
    """The public page only reads: it never migrates (the bot does, and the two could race);
    on a database behind the code it says what to run and stops."""
    if revision is not None:
        assert runner.invoke(app, ["db", "upgrade", "--revision", revision]).exit_code == 0
    with socket.socket() as taken:  # were it to serve anyway, it would stop, not hang
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = runner.invoke(app, ["web", "--host", "127.0.0.1", "--port", port])
    assert result.exit_code == 2
    assert "zhengfeng db upgrade" in result.output
    assert (revision or "无") in result.output
    database = workdir / "cli.db"
    if revision is None:
        assert not database.exists() or "quarter_bulletin" not in _tables(database)
    else:
        assert "quarter_bulletin" not in _tables(database), "not migrated to 0017"


def _tables(database: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {str(row[0]) for row in rows}
