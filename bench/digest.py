"""Benchmark: the monthly digest over a large SQLite file, against a plain GROUP BY in the same run.

    .venv/bin/python bench/digest.py [--reports 1000000] [--departments 500] [--months 12]
                                     [--db PATH] [--runs 3]

Builds (or reuses, with --db on an existing file) a database with `--reports` reports spread
evenly over `--months` months ending with March 2026 (Shanghai), over `--departments`
departments, with the timeline events the figures read (created, accepted, signed, replied,
reopened, rated, returned, escalated), in the shapes the case rules produce: on time and late,
answered and waiting, reopened, escalated, returned, overdue. Generation is SQL only
(``INSERT … SELECT`` over a recursive CTE), about a minute for a million reports. A reused file
is first upgraded to the current migrations (and re-analysed if that changed it), so a file
generated before an index migration measures the indexes the code now expects.

Then, in one process, it times `db.office.digest.build_digest` for March 2026 as judged on 1 April
and the plain scan ``SELECT handling_department_id, count(*) FROM report GROUP BY 1`` through the
same engine (each the median of --runs runs after one warm-up), and prints both, their ratio,
the peak Python memory of the digest (tracemalloc) and the growth of the process's peak RSS.
It also times writing the month's workbook (informative, not part of the target: openpyxl
spends about 0.1 ms of pure Python per row; the rows are streamed, so memory stays flat).

Targets (issue 4): digest at most 3× the scan; peak memory growth under 200 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bot.documents.digest_files import render_workbook  # noqa: E402
from bot.runtime.i18n import gettext_for  # noqa: E402
from db import migrate  # noqa: E402
from db.calendar.months import month_bounds  # noqa: E402
from db.calendar.workdays import load_calendar  # noqa: E402
from db.cases.rules import Limits  # noqa: E402
from db.engine import create_engine, session_factory  # noqa: E402
from db.office.digest import (  # noqa: E402
    Digest,
    ReportRow,
    ScoreWeights,
    build_digest,
    month_report_rows,
)

TZ = ZoneInfo("Asia/Shanghai")
MONTH = date(2026, 3, 1)
NOW = datetime(2026, 4, 1, 2, tzinfo=UTC)  # 10:00 on 1 April in Shanghai
DAY = 86400

# SQLAlchemy's SQLite DATETIME storage format; the generated rows must match it exactly,
# because SQLite compares these as strings.
_TS = "strftime('%Y-%m-%d %H:%M:%S', {0}, 'unixepoch') || '.000000'"


def ts(expr: str) -> str:
    return _TS.format(expr)


def generate(path: Path, reports: int, departments: int, months: int) -> None:
    """Fill a migrated SQLite file; see the module notes for the shapes of the reports."""
    _start, end = month_bounds(MONTH, TZ)
    span = months * 30.4 * DAY
    first = int(end.timestamp() - span)
    # Reports older than 45 days are settled (closed), as in a working campaign, except a tail
    # of one in twenty of the open shapes, which stays open and overdue.
    settled = int(NOW.timestamp() - 45 * DAY)
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA foreign_keys=OFF;")
    db.executemany(
        "INSERT INTO department (code, name, kind, active, created_at) VALUES (?, ?, ?, 1, ?)",
        [
            (f"B{i:04d}", f"第{i}号测试单位", "department", "2025-01-01 00:00:00.000000")
            for i in range(1, departments + 1)
        ],
    )
    # One row per report with its times as unix seconds; the shape comes from b = bucket 0..99:
    # <65 closed satisfied, <70 reopened then closed, <80 answered awaiting rating, <90 signed
    # and handling, <95 assigned not signed, <97 returned, else escalated after a 重办 (for
    # settled reports the open shapes mostly become closed ones).
    # b % 7 == 0 signs late (3 days); b % 11 == 0 answers late (day 25 of a 21-day due).
    db.executescript(f"""
        CREATE TEMP TABLE gen AS
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {reports})
        SELECT i,
               CASE WHEN {first} + (i - 1) * {span / reports!r} < {settled}
                         AND (i * 37) % 100 BETWEEN 70 AND 94 AND i % 20 <> 0
                    THEN (i * 37) % 65 ELSE (i * 37) % 100 END AS b,
               1 + (i * 7919) % {departments} AS dept,
               {first} + CAST((i - 1) * {span / reports!r} AS INTEGER) AS t0
        FROM n;
        CREATE TEMP TABLE t AS
        SELECT i, b, dept, t0, t0 + 3600 AS assigned,
               t0 + 3600 + CASE WHEN b % 7 = 0 THEN 3 * {DAY} ELSE 7200 END AS signed
        FROM gen;
        CREATE TEMP TABLE u AS
        SELECT *, signed + CASE WHEN b % 11 = 0 THEN 25 ELSE 5 END * {DAY} AS replied1,
               signed + 21 * {DAY} AS due1
        FROM t;
        CREATE TEMP TABLE v AS
        SELECT *, replied1 + {DAY} AS reopened, replied1 + 4 * {DAY} AS replied2,
               replied1 + 22 * {DAY} AS due2
        FROM u;
        DROP TABLE gen; DROP TABLE t; DROP TABLE u;
    """)
    state = """CASE WHEN b < 70 THEN 'closed' WHEN b < 80 THEN 'replied' WHEN b < 90 THEN 'signed'
                    WHEN b < 95 THEN 'assigned' WHEN b < 97 THEN 'returned' ELSE 'escalated' END"""
    due_kind = """CASE WHEN b < 70 THEN NULL WHEN b < 80 THEN 'rating' WHEN b < 90 THEN 'reply'
                       WHEN b < 95 THEN 'sign' ELSE 'reassign' END"""
    due_at = f"""CASE WHEN b < 70 THEN NULL WHEN b < 80 THEN {ts("replied1 + 7 * " + str(DAY))}
                      WHEN b < 90 THEN {ts("due1")} WHEN b < 95 THEN {ts("assigned + " + str(DAY))}
                      ELSE {ts("t0 + 30 * " + str(DAY))} END"""
    db.execute(f"""
        INSERT INTO report (id, number, year, seq, category_id, department_id, description,
            identity_mode, language, state, created_at, updated_at, owner_kind,
            owner_department_id, due_at, due_kind, handling_department_id, assigned_at,
            signed_at, replied_at, extension_used, reopen_count, leader_involved, rating,
            version, reporter_name, reporter_phone)
        SELECT i, printf('ZF%d-%07d', 2025, i), 2025, i, 1, dept, '窗口工作人员推诿扯皮。',
            CASE WHEN i % 3 = 0 THEN 'real_name' ELSE 'anonymous' END, 'zh_CN', {state},
            {ts("t0")}, {ts("t0")}, CASE WHEN b < 70 THEN NULL ELSE 'department' END,
            CASE WHEN b < 70 THEN NULL ELSE dept END, {due_at}, {due_kind}, dept,
            {ts("assigned")},
            CASE WHEN b < 90 OR b >= 97 THEN {ts("signed")} END,
            CASE WHEN b < 80 THEN {ts("replied1")} END,
            0, CASE WHEN (b >= 65 AND b < 70) OR b >= 97 THEN 1 ELSE 0 END, 0,
            CASE WHEN b < 65 THEN 'satisfied' WHEN b < 70 THEN 'basically_satisfied'
                 WHEN b >= 97 THEN 'unsatisfied' END,
            1, CASE WHEN i % 3 = 0 THEN '张三' END, CASE WHEN i % 3 = 0 THEN '+8613800138000' END
        FROM v
    """)

    def events(kind: str, at: str, where: str, due: str = "NULL") -> None:
        due_sql = "NULL" if due == "NULL" else ts(due)
        db.execute(f"""
            INSERT INTO report_event (report_id, department_id, kind, actor_role, public,
                created_at, due_at)
            SELECT i, {"NULL" if kind == "created" else "dept"}, '{kind}', 'system', 1, {ts(at)},
                {due_sql}
            FROM v WHERE {where}
        """)

    events("created", "t0", "1")
    events("accepted", "assigned", "1", due="NULL")
    events("signed", "signed", "b < 90 OR b >= 97", due=f"assigned + {DAY}")
    events("replied", "replied1", "b < 80 OR b >= 97", due="due1")
    events("reopened", "reopened", "(b >= 65 AND b < 70) OR b >= 97")
    events("replied", "replied2", "(b >= 65 AND b < 70) OR b >= 97", due="due2")
    events("rated", "replied1 + 86400", "b < 65")
    events("rated", "replied2 + 86400", "b >= 65 AND b < 70")
    events("escalated", "replied2 + 86400", "b >= 97")
    events("returned", "assigned + 7200", "b >= 95 AND b < 97")
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()


def upgrade_reused(path: Path) -> None:
    """Bring a reused file to the current schema; ANALYZE again when that created indexes."""

    def revision() -> str:
        with sqlite3.connect(path) as db:
            return str(db.execute("SELECT version_num FROM alembic_version").fetchone()[0])

    before = revision()
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    after = revision()
    if after != before:
        began = time.perf_counter()
        db = sqlite3.connect(path)
        db.execute("ANALYZE")
        db.commit()
        db.close()
        print(f"upgraded {before} → {after} and analysed in {time.perf_counter() - began:.1f} s")


def database(kept: Path | None, folder: Path, reports: int, departments: int, months: int) -> Path:
    """The file to measure: `kept` (`--db`) reused when it exists, else generated there or in
    `folder`."""
    path = kept or folder / "reports.db"
    if not path.exists():
        began = time.perf_counter()
        migrate.upgrade(f"sqlite+aiosqlite:///{path}")
        generate(path, reports, departments, months)
        print(f"generated in {time.perf_counter() - began:.1f} s: {path}")
    else:
        upgrade_reused(path)
    return path


async def timed(runs: int, job: Callable[[], Awaitable[object]]) -> float:
    await job()  # warm-up: page cache and statement caches
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await job()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


async def measure(path: Path, runs: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    limits, weights = Limits(), ScoreWeights()
    async with sessions() as session:
        calendar = await load_calendar(session)
        counts = await session.exec(text("SELECT count(*) FROM report"))  # type: ignore[call-overload]
        events = await session.exec(text("SELECT count(*) FROM report_event"))  # type: ignore[call-overload]
        print(f"reports: {counts.scalar_one():,}  events: {events.scalar_one():,}")

        async def digest() -> Digest:
            return await build_digest(
                session, MONTH, NOW, calendar=calendar, tz=TZ, limits=limits, weights=weights
            )

        async def scan() -> object:
            result = await session.exec(  # type: ignore[call-overload]
                text(
                    "SELECT handling_department_id, count(*) FROM report "
                    "GROUP BY handling_department_id"
                )
            )
            return result.all()

        rss_before = rss_mb()
        tracemalloc.start()
        result = await digest()
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        digest_s = await timed(runs, digest)
        scan_s = await timed(runs, scan)
        rss_growth = rss_mb() - rss_before

        def rows(department_ids: list[int] | None) -> AsyncIterator[ReportRow]:
            return month_report_rows(
                session,
                result,
                calendar=calendar,
                tz=TZ,
                limits=limits,
                department_ids=department_ids,
            )

        # No tracemalloc here: it slows openpyxl's per-cell Python several times over.
        began = time.perf_counter()
        workbook = await render_workbook(result, rows, gettext_for("zh_CN"), TZ)
        workbook_s = time.perf_counter() - began
        workbook_rss = rss_mb() - rss_before
    await engine.dispose()

    totals = result.totals
    print(
        f"month {MONTH:%Y-%m}: received {totals.received:,}, answered {totals.answered:,}, "
        f"overdue now {totals.overdue_now:,}, ranked {len(result.ranked)} departments"
    )
    print(f"digest (build_digest)        : {digest_s * 1000:8.1f} ms")
    print(f"scan (SELECT … GROUP BY)     : {scan_s * 1000:8.1f} ms")
    print(f"ratio digest / scan          : {digest_s / scan_s:8.2f}   (target ≤ 3)")
    print(f"digest peak Python memory    : {peak / 2**20:8.1f} MB (tracemalloc)")
    print(f"peak RSS growth              : {rss_growth:8.1f} MB   (target < 200)")
    print(
        f"workbook (informative)       : {workbook_s:8.1f} s, {len(workbook) / 2**20:.1f} MB "
        f"file, peak RSS growth with it {workbook_rss:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--departments", type=int, default=500)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", type=Path, help="reuse this file when it exists")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="zhengfeng-bench-")
    path = database(args.db, Path(folder.name), args.reports, args.departments, args.months)
    asyncio.run(measure(path, args.runs))
    folder.cleanup()


if __name__ == "__main__":
    main()
