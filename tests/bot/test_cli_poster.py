"""`zhengfeng poster`: a window's poster files, with the same link on every print."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZHENGFENG_TELEGRAM__TOKEN", raising=False)
    monkeypatch.setenv("ZHENGFENG_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("ZHENGFENG_DATA_DIR", str(tmp_path / "data"))
    assert runner.invoke(app, ["import-departments", "--sample"]).exit_code == 0
    return tmp_path


def test_poster_writes_png_and_pdf_with_the_units_link(workdir: Path) -> None:
    result = runner.invoke(
        app, ["poster", "w002", "--out", str(workdir / "w002"), "--bot-username", "@zf_bot"]
    )
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://t.me/zf_bot?start=rate-")
    with Image.open(workdir / "w002.png") as image:
        assert image.size[0] > 2000
    assert (workdir / "w002.pdf").read_bytes().startswith(b"%PDF")
    with sqlite3.connect(workdir / "cli.db") as db:
        [(public, kind)] = db.execute("select public_token, kind from rating_link").fetchall()
    assert link.endswith(f"rate-{public}") and kind == "poster"

    again = runner.invoke(
        app, ["poster", "W002", "--out", str(workdir / "again.pdf"), "--bot-username", "zf_bot"]
    )
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == link, "a reprint keeps the link of the posters on the wall"
    assert (workdir / "again.png").exists() and (workdir / "again.pdf").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["poster", "NOPE", "--out", "x", "--bot-username", "b"],
        ["poster", "D011", "--out", "x", "--bot-username", "b"],  # a department, no window
        ["poster", "W002", "--out", "x"],  # no token to ask Telegram, no --bot-username
        ["poster", "W002", "--out", "missing/x", "--bot-username", "b"],
    ],
)
def test_poster_refuses_bad_arguments(workdir: Path, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("zhengfeng: ")
    assert not (workdir / "x.png").exists()


def test_poster_refuses_a_deactivated_unit(workdir: Path) -> None:
    with sqlite3.connect(workdir / "cli.db") as db:
        db.execute("update department set active = 0 where code = 'W002'")
    result = runner.invoke(app, ["poster", "W002", "--out", "x", "--bot-username", "b"])
    assert result.exit_code == 2 and "W002" in result.output
