"""The operator commands of `bot/cli.py`: departments out and in, people, exports, backup, purge."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.cli import app
from db.engine import create_engine, session_factory
from db.models import IdentityMode, ReportState
from db.people.accounts import get_or_create_account
from tests.factories import file_report

runner = CliRunner()
COMMANDS = [
    "run", "import-departments", "export-departments", "make-admin", "invite", "export",
    "digest", "backup", "purge",
]  # fmt: skip


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ZHENGFENG_TELEGRAM__TOKEN", raising=False)
    monkeypatch.setenv("ZHENGFENG_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("ZHENGFENG_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def _query(workdir: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(workdir / "cli.db") as db:
        return db.execute(sql).fetchall()


def _sample(workdir: Path) -> None:
    assert runner.invoke(app, ["import-departments", "--sample"]).exit_code == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_export_departments_round_trips_through_import(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sample(workdir)
    out = workdir / "units.csv"
    assert runner.invoke(app, ["export-departments", "--out", str(out)]).exit_code == 0
    before = _query(workdir, "select code, name, kind, dept_class from department order by code")
    # Into an empty database: the exported file alone rebuilds the same table.
    monkeypatch.setenv("ZHENGFENG_DATABASE__URL", f"sqlite+aiosqlite:///{workdir}/other.db")
    result = runner.invoke(app, ["import-departments", str(out)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(workdir / "other.db") as db:
        after = db.execute(
            "select code, name, kind, dept_class from department order by code"
        ).fetchall()
    assert after == before and len(after) == 141
    stdout = runner.invoke(app, ["export-departments"]).stdout
    assert stdout.splitlines()[0] == "code,name,kind,class"
    assert len(stdout.splitlines()) == 142


def test_a_bad_file_changes_nothing_even_for_its_good_rows(workdir: Path) -> None:
    _sample(workdir)
    before = _query(workdir, "select code, name from department order by code")
    # The first row would rename D001; the second is broken, so neither may land.
    mixed = workdir / "mixed.csv"
    mixed.write_text("code,name,kind,class\nD001,改名单位,department,其他\nX9,,window,其他\n")
    assert runner.invoke(app, ["import-departments", str(mixed)]).exit_code == 2
    missing = workdir / "missing.csv"
    missing.write_text("code,name\nX1,甲单位\n")
    result = runner.invoke(app, ["import-departments", str(missing)])
    assert result.exit_code == 2 and "missing_columns" in result.output
    utf16 = workdir / "utf16.csv"
    utf16.write_bytes("code,name,kind,class\nX2,乙单位,window,其他\n".encode("utf-16"))
    result = runner.invoke(app, ["import-departments", str(utf16)])
    assert result.exit_code == 2 and "encoding" in result.output
    assert _query(workdir, "select code, name from department order by code") == before


def test_gbk_file_is_read_as_gbk(workdir: Path) -> None:
    gbk = workdir / "gbk.csv"
    gbk.write_bytes("编码,名称,类型,类别\nG1,市税务局,部门,经济管理\n".encode("gbk"))
    assert runner.invoke(app, ["import-departments", str(gbk)]).exit_code == 0
    assert _query(workdir, "select code, name, kind from department") == [
        ("G1", "市税务局", "department")
    ]


def test_make_admin_creates_the_account_once(workdir: Path) -> None:
    first = runner.invoke(app, ["make-admin", "424242"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["make-admin", "424242"])
    assert again.exit_code == 0
    assert first.output != again.output
    rows = _query(
        workdir,
        "select a.telegram_id, g.role, g.department_id from role_grant g "
        "join account a on a.id = g.account_id where g.revoked_at is null",
    )
    assert rows == [(424242, "admin", None)]
    assert _query(workdir, "select action, subject, actor_account_id from audit_event") == [
        ("role.grant", "account:424242", None)
    ]
    assert runner.invoke(app, ["make-admin", "abc"]).exit_code == 2
    assert runner.invoke(app, ["make-admin", "--", "-5"]).exit_code == 2


def test_invite_prints_a_link_whose_token_is_stored_hashed(workdir: Path) -> None:
    _sample(workdir)
    result = runner.invoke(app, ["invite", "liaison", "d011", "--bot-username", "@zf_bot"])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://t.me/zf_bot?start=")
    token = link.split("=", 1)[1]
    [(token_hash, role, code)] = _query(
        workdir,
        "select i.token_hash, i.role, d.code from invite i join department d "
        "on d.id = i.department_id",
    )
    assert token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (role, code) == ("liaison", "D011")
    assert token not in (workdir / "cli.db").read_bytes().decode("latin-1")


@pytest.mark.parametrize(
    "args",
    [
        ["invite", "liaison", "NOPE", "--bot-username", "b"],
        ["invite", "mayor", "D011", "--bot-username", "b"],
        ["invite", "liaison", "--bot-username", "b"],
        ["invite", "admin", "D011", "--bot-username", "b"],
        ["invite", "admin"],  # no token to ask Telegram, no --bot-username
    ],
)
def test_invite_refuses_bad_arguments_and_makes_nothing(workdir: Path, args: list[str]) -> None:
    _sample(workdir)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.startswith("zhengfeng: ")
    assert _query(workdir, "select count(*) from invite") == [(0,)]


async def _reports(url: str, at: datetime) -> None:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        named, _ = await get_or_create_account(session, 777001, "zh_CN")
        hidden, _ = await get_or_create_account(session, 777002, "zh_CN")
        assert named.id is not None and hidden.id is not None
        await file_report(session, named.id, at, mode=IdentityMode.real_name)
        await file_report(session, hidden.id, at, mode=IdentityMode.anonymous)
        await session.commit()
    await engine.dispose()


def test_export_shows_identity_only_for_real_name(workdir: Path) -> None:
    _sample(workdir)
    asyncio.run(
        _reports(f"sqlite+aiosqlite:///{workdir}/cli.db", datetime(2026, 2, 10, 3, tzinfo=UTC))
    )
    out = workdir / "feb.xlsx"
    result = runner.invoke(app, ["export", "--month", "2026-02", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert len(body) == 2
    cells = [str(c) for row in body for c in row if c is not None]
    assert "张三" in cells and "+8613800138000" in cells
    assert sum("张三" in row for row in body) == 1
    assert not any(str(tid) in cell for tid in (777001, 777002) for cell in cells)
    assert len(header) == len(body[0])


def test_export_of_an_empty_month_is_a_workbook_with_headers(workdir: Path) -> None:
    out = workdir / "empty.xlsx"
    result = runner.invoke(app, ["export", "--month", "2025-07", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 1 and rows[0][0]


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--month", "2026-13", "--out", "x.xlsx"],
        ["export", "--month", "9999-01", "--out", "x.xlsx"],
        ["export", "--month", "2026-01", "--out", "x.csv"],
        ["export", "--out", "x.xlsx"],
    ],
)
def test_export_refuses_bad_arguments(workdir: Path, args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2
    assert not (workdir / "x.xlsx").exists() and not (workdir / "x.csv").exists()


def test_backup_is_consistent_while_a_writer_holds_a_transaction(workdir: Path) -> None:
    _sample(workdir)
    writer = sqlite3.connect(workdir / "cli.db", isolation_level=None)
    writer.execute("begin immediate")
    writer.execute("delete from department")
    try:
        result = runner.invoke(app, ["backup", "--out", str(workdir / "copy.db")])
    finally:
        writer.execute("rollback")
        writer.close()
    assert result.exit_code == 0, result.output
    with sqlite3.connect(workdir / "copy.db") as copy:
        assert copy.execute("select count(*) from department").fetchone() == (141,)
        assert copy.execute("pragma integrity_check").fetchone() == ("ok",)
    again = runner.invoke(app, ["backup", "--out", str(workdir / "copy.db")])
    assert again.exit_code == 2


def test_backup_on_postgres_points_to_pg_dump(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZHENGFENG_DATABASE__URL", "postgresql+asyncpg://u@127.0.0.1:1/none")
    result = runner.invoke(app, ["backup", "--out", str(workdir / "x.dump")])
    assert result.exit_code == 2 and "pg_dump" in result.output
    assert not (workdir / "x.dump").exists()


async def _old_closed_report(url: str) -> str:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        account, _ = await get_or_create_account(session, 888001, "zh_CN")
        assert account.id is not None
        old = datetime.now(UTC) - timedelta(days=400)
        report = await file_report(session, account.id, old)
        report.state = ReportState.closed
        report.updated_at = old
        session.add(report)
        number = report.number
        await session.commit()
    await engine.dispose()
    return number


def test_purge_dry_run_lists_and_purge_removes(workdir: Path) -> None:
    _sample(workdir)
    number = asyncio.run(_old_closed_report(f"sqlite+aiosqlite:///{workdir}/cli.db"))
    dry = runner.invoke(app, ["purge", "--dry-run"])
    assert dry.exit_code == 0 and number in dry.output
    assert _query(workdir, "select reporter_name from report") == [("张三",)]
    done = runner.invoke(app, ["purge"])
    assert done.exit_code == 0, done.output
    assert _query(workdir, "select reporter_name, reporter_account_id from report") == [
        (None, None)
    ]
    assert number not in runner.invoke(app, ["purge", "--dry-run"]).output


def test_db_copy_moves_the_office_and_refuses_to_copy_twice(
    workdir: Path, database_url: str | None
) -> None:
    _sample(workdir)
    source = f"sqlite+aiosqlite:///{workdir}/cli.db"
    target = database_url or f"sqlite+aiosqlite:///{workdir}/moved.db"
    result = runner.invoke(app, ["db", "copy", "--from", source, "--to", target])
    assert result.exit_code == 0, result.output
    assert "department：141 行" in result.output and "两边行数一致" in result.output
    again = runner.invoke(app, ["db", "copy", "--from", source, "--to", target])
    assert again.exit_code == 2 and "未复制" in again.output and "department" in again.output
