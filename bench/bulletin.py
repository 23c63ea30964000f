"""Benchmark: the quarterly bulletin (季度通报) over a large SQLite file, and what it costs
everybody else on the event loop while it is computed.

    .venv/bin/python bench/bulletin.py [--reports 1000000] [--departments 500] [--db PATH]
                                       [--runs 3]

Builds (or reuses) the same database as bench/digest.py (its generator: reports spread over the
twelve months ending with March 2026), then computes the bulletin of 2026-Q1 as judged on 1 April,
as the leader's job, `/bulletin` and `/publish` do: once with its statements inline on the event
loop (how any statement of a chat step runs on SQLite) and once inside `off_the_loop()`, the way
the callers run it. For each it prints the median time and the longest stretch the loop was held
(a ticker asks for the loop every 5 ms), beside a plain GROUP BY over the same three months.

Target (issue 13, for every job on a city's database): no stretch longer than 50 ms on the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from digest import TZ, database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from db.bulletin.bulletin import compute_bulletin  # noqa: E402
from db.bulletin.quarters import parse_quarter  # noqa: E402
from db.bulletin.scoring import BulletinWeights  # noqa: E402
from db.calendar.workdays import load_calendar  # noqa: E402
from db.cases.rules import Limits  # noqa: E402
from db.engine import create_engine, off_the_loop, session_factory  # noqa: E402

QUARTER = parse_quarter("2026-Q1")
NOW = datetime(2026, 4, 1, 2, tzinfo=UTC)  # 10:00 on 1 April in Shanghai
TICK = 0.005


async def held(job: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """The job's time and the longest gap between a 5 ms ticker's turns while it ran (s)."""
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(TICK * 2)
    began = time.perf_counter()
    await job()
    took = time.perf_counter() - began
    done.set()
    await ticking
    return took, max(gaps, default=0.0) - TICK


async def measure(path: Path, runs: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = session_factory(engine)
    async with sessions() as session:
        calendar = await load_calendar(session)
        counts = await session.exec(text("SELECT count(*) FROM report"))  # type: ignore[call-overload]
        print(f"reports: {counts.scalar_one():,}")

        async def bulletin() -> object:
            return await compute_bulletin(
                session,
                QUARTER,
                NOW,
                calendar=calendar,
                tz=TZ,
                limits=Limits(),
                weights=BulletinWeights(),
                bottom_count=1,
            )

        async def bulletin_off_the_loop() -> object:
            with off_the_loop():
                return await bulletin()

        start, end = QUARTER.bounds(TZ)

        async def scan() -> object:
            result = await session.exec(  # type: ignore[call-overload]
                text(
                    "SELECT handling_department_id, count(*) FROM report "
                    "WHERE created_at >= :start AND created_at < :end GROUP BY 1"
                ).bindparams(
                    start=start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.000000"),
                    end=end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.000000"),
                )
            )
            return result.all()

        made = await bulletin()
        ranked = sum(1 for unit in made.units if unit.rank is not None)  # type: ignore[attr-defined]
        print(f"2026-Q1: {len(made.units)} units, {ranked} ranked")  # type: ignore[attr-defined]
        for name, job in (
            ("bulletin, statements inline", bulletin),
            ("bulletin, off_the_loop()", bulletin_off_the_loop),
            ("plain GROUP BY of the quarter", scan),
        ):
            await job()  # warm-up: page cache and statement caches
            results = [await held(job) for _ in range(runs)]
            took = statistics.median(r[0] for r in results)
            stall = max(r[1] for r in results)
            print(
                f"{name:32s} median {took * 1000:8.0f} ms   "
                f"longest loop stall {stall * 1000:6.0f} ms"
            )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--departments", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--db", type=Path, help="reuse this file when it exists")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="zhengfeng-bench-")
    path = database(args.db, Path(folder.name), args.reports, args.departments, 12)
    asyncio.run(measure(path, args.runs))
    folder.cleanup()


if __name__ == "__main__":
    main()
