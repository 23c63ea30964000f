"""Benchmark: the bot at a city's scale, against Telegram's limits, with people waiting.

    .venv/bin/python bench/scale.py [--reports 1000000] [--db PATH] [--people 50]
                                    [--backlog 10000] [--idle 20] [--busy 60]

One process, the real application against the Bot API double (in process, no sockets) with
Telegram's limits switched on in the double: 30 messages a second overall, a burst of 3 and then
1 a second per private chat, 429 with `retry_after` beyond them. The database is a SQLite file of
`--reports` reports in the shapes `bench/digest.py` generates (made in a child process, or reused
with `--db`), with one admin configured; the business clock starts at 09:00 on 1 April 2026, the
first working day of the month, so the monthly digest and the morning's deadline scan are due.

1. **Idle** (`--idle` seconds): `--people` people file reports step by step with a think time of
   1 s, and 5 liaisons sign for and answer their units' reports; nothing runs in the background.
2. **Busy** (`--busy` seconds): the same people, while a `--backlog`-message outbox backlog
   (one message to each of as many people) is sent, the deadline scan, the monthly digest and
   the 未评价 job run, and, from the 10th second, one account sends 200 messages in 10 seconds.

A step is one update a person sends, timed until the bot's answer has reached the double. A
ticker coroutine measures the longest stretch the event loop was held. Printed: the longest
stall; the people's p50/p99 idle and busy; the others' p99 while the flood lasts; messages the
outbox sent per second against what the replies left of 30/s; 429 answers; backlog messages
lost (marked sent, never delivered) or duplicated; the peak RSS; and the targets beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from bench.bad_day import Person, _next_update  # noqa: E402
from bench.digest import generate, upgrade_reused  # noqa: E402
from bot.fakeapi import FakeBotApi, FakeUser  # noqa: E402
from bot.runtime import callbacks as cb  # noqa: E402
from bot.runtime.services import services_of  # noqa: E402
from bot.runtime.settings import DatabaseSettings, FloodSettings, RateLimitSettings  # noqa: E402
from db.engine import create_engine, session_factory  # noqa: E402
from db.models import Account, OutboxMessage, Report, ReportState, Role  # noqa: E402
from db.people.roles import grant_role  # noqa: E402
from scheduler.cases.unrated import close_unrated_reports  # noqa: E402
from scheduler.deadlines.job import run_deadline_scan  # noqa: E402
from scheduler.office.digest import run_digest_job  # noqa: E402
from tests.harness import Clock, Harness, make_settings  # noqa: E402

START = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Wednesday
ADMIN = FakeUser(9, "Office", language_code="en")
BACKLOG_BASE = 5_000_000
PEOPLE_BASE = 100_000
LIAISON_BASE = 200_000
FLOODER = FakeUser(300_000, "Flood", language_code="en")
THINK = 1.0


@dataclass
class RealTimeClock(Clock):
    """The business clock runs with the wall clock from `START`."""

    began: float = field(default_factory=time.monotonic)

    def __call__(self) -> datetime:
        return START + timedelta(seconds=time.monotonic() - self.began)


@dataclass
class Steps:
    """Step latencies: (wall time the step ended, seconds, who)."""

    taken: list[tuple[float, float, str]] = field(default_factory=list)

    def between(self, start: float, end: float, who: str = "person") -> list[float]:
        return [s for t, s, w in self.taken if start <= t < end and w == who]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def timed_feed(bot: Harness, update: dict[str, Any], user: FakeUser) -> float:
    began = time.perf_counter()
    await bot.feed(update, user)
    return time.perf_counter() - began


async def citizen(bot: Harness, person: Person, steps: Steps, stop: asyncio.Event) -> None:
    """File reports one after another, a step a second, as long as the run lasts."""
    rng = random.Random(person.user.id)
    await asyncio.sleep(rng.uniform(0, THINK))
    while not stop.is_set():
        update, submits = _next_update(bot.api, person)
        steps.taken.append((time.monotonic(), await timed_feed(bot, update, person.user), "person"))
        if submits:
            person.submitted = True
            # The next report starts afresh.
            steps.taken.append(
                (
                    time.monotonic(),
                    await timed_feed(
                        bot, bot.api.message_update(person.user, "/report"), person.user
                    ),
                    "person",
                )
            )
        await asyncio.sleep(THINK)


async def liaison(
    bot: Harness, user: FakeUser, reports: list[int], steps: Steps, stop: asyncio.Event
) -> None:
    """Sign for an assigned report of the unit, then answer it; a step a second."""
    await asyncio.sleep(random.Random(user.id).uniform(0, THINK))
    await timed_feed(bot, bot.api.message_update(user, "/start"), user)
    for report_id in reports:
        if stop.is_set():
            return
        anchor = bot.api.last_message(user.id)
        for data in (cb.CASE_SIGN.pack(report_id), cb.CASE_ACTION.pack("reply", report_id)):
            update = bot.api.callback_update(user, anchor, data, check_button=False)
            steps.taken.append((time.monotonic(), await timed_feed(bot, update, user), "liaison"))
            await asyncio.sleep(THINK)
            anchor = bot.api.last_message(user.id)
        answer = bot.api.message_update(user, "经核查，已责令窗口整改，并对相关人员批评教育。")
        steps.taken.append((time.monotonic(), await timed_feed(bot, answer, user), "liaison"))
        await asyncio.sleep(THINK)


async def flood(bot: Harness) -> None:
    """200 messages in 10 seconds from one account, without waiting for answers."""
    sent = []
    for i in range(200):
        update = bot.api.message_update(FLOODER, f"flood {i}")
        sent.append(asyncio.create_task(bot.feed(update, FLOODER)))
        await asyncio.sleep(0.05)
    await asyncio.gather(*sent, return_exceptions=True)


async def ticker(stalls: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    last = loop.time()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = loop.time()
        stalls.append(now - last - 0.005)
        last = now


SENDS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup"}
)


def sent_between(api: FakeBotApi, start: float, end: float) -> tuple[int, int]:
    """Messages the double accepted in the window: (to the backlog's recipients, to anyone
    else), counted from the double's own record so any version of the bot is measured alike."""
    bulk = replies = 0
    for call in api.calls:
        if call.method in SENDS and call.status == 200 and start <= call.at < end:
            chat = int(str(call.params.get("chat_id", 0)))
            if chat >= BACKLOG_BASE:
                bulk += 1
            else:
                replies += 1
    return bulk, replies


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def prepare(url: str, liaisons: list[FakeUser]) -> dict[int, list[int]]:
    """Liaisons for 5 units with assigned reports; returns liaison id → report ids to work."""
    engine = create_engine(url)
    work: dict[int, list[int]] = {}
    async with session_factory(engine)() as session:
        units = (
            await session.exec(
                text(
                    "SELECT handling_department_id FROM report WHERE state = 'assigned' "
                    "GROUP BY 1 ORDER BY count(*) DESC LIMIT :n"
                ),
                params={"n": len(liaisons)},
            )
        ).all()
        for person, (unit_id,) in zip(liaisons, units, strict=False):
            account = Account(telegram_id=person.id, language="zh_CN")
            session.add(account)
            await session.flush()
            assert account.id is not None
            await grant_role(session, account.id, Role.liaison, unit_id, START)
            ids = (
                await session.exec(
                    select(Report.id)
                    .where(
                        col(Report.handling_department_id) == unit_id,
                        col(Report.state) == ReportState.assigned,
                    )
                    .limit(200)
                )
            ).all()
            work[person.id] = [i for i in ids if i is not None]
        await session.commit()
    await engine.dispose()
    return work


async def load_backlog(bot: Harness, url: str, count: int) -> None:
    """`count` messages waiting in the outbox, one to each of as many people."""
    engine = create_engine(url)
    async with engine.begin() as connection:
        now = START.strftime("%Y-%m-%d %H:%M:%S.000000")
        await connection.execute(
            text(
                "INSERT INTO outbox (dedupe_key, channel, chat_id, text, urgent, next_attempt_at, "
                "attempts, in_doubt, created_at) "
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last) "
                "SELECT 'bench:' || i, 'telegram', :base + i, 'backlog ' || i || ' 通知', 0, "
                ":now, 0, 0, :now FROM n"
            ),
            {"last": count - 1, "base": BACKLOG_BASE, "now": now},
        )
    await engine.dispose()
    for i in range(count):
        bot.api.add_user(FakeUser(BACKLOG_BASE + i, f"R{i}"))


async def backlog_outcome(url: str) -> tuple[int, float | None, float | None]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        rows = (
            await session.exec(
                select(OutboxMessage.sent_at).where(
                    col(OutboxMessage.dedupe_key).startswith("bench:"),
                    col(OutboxMessage.sent_at).is_not(None),
                )
            )
        ).all()
    await engine.dispose()
    times = sorted(t.timestamp() for t in rows if t is not None)
    return len(times), (times[0] if times else None), (times[-1] if times else None)


async def run(args: argparse.Namespace, path: Path, folder: Path) -> None:
    url = f"sqlite+aiosqlite:///{path}"
    settings = make_settings(
        folder,
        admin_ids=[ADMIN.id],
        rate_limit=RateLimitSettings(),
        flood=FloodSettings(),
    ).model_copy(update={"database": DatabaseSettings(url=url)})
    liaisons = [FakeUser(LIAISON_BASE + i, f"联络员{i}", language_code="zh-hans") for i in range(5)]
    work = await prepare(url, liaisons)
    api = FakeBotApi()
    api.rate_limit(30)
    api.chat_limits(per_second=1.0, burst=3)
    clock = RealTimeClock()
    bot = Harness(api=api, settings=settings, clock=clock)
    people = [
        Person(FakeUser(PEOPLE_BASE + i, f"P{i}", language_code="en"), "Anonymous")
        for i in range(args.people)
    ]
    for user in [ADMIN, FLOODER, *liaisons, *(p.user for p in people)]:
        api.add_user(user)

    stalls: list[float] = []
    steps = Steps()
    stop_all = asyncio.Event()
    started = time.monotonic()
    await bot.start()
    assert bot.app is not None and bot.app.job_queue is not None
    print(f"bot started in {time.monotonic() - started:.1f} s", flush=True)
    # The jobs run when this script says, as the job queue would at the run's moments.
    for job in bot.app.job_queue.jobs():
        job.schedule_removal()
    ticking = asyncio.create_task(ticker(stalls, stop_all))
    workers = [asyncio.create_task(citizen(bot, p, steps, stop_all)) for p in people]
    workers += [
        asyncio.create_task(liaison(bot, u, work.get(u.id, []), steps, stop_all)) for u in liaisons
    ]

    idle_start = time.monotonic()
    await asyncio.sleep(args.idle)
    idle_end = time.monotonic()
    idle_stall = max(stalls, default=0.0)

    await load_backlog(bot, url, args.backlog)
    services_of(bot.app).wake_sender()
    busy_start = time.monotonic()
    context = bot.context
    jobs = [
        asyncio.create_task(run_deadline_scan(context)),
        asyncio.create_task(run_digest_job(context)),
        asyncio.create_task(close_unrated_reports(context)),
    ]
    await asyncio.sleep(10)
    flood_start = time.monotonic()
    await flood(bot)
    flood_end = time.monotonic()
    await asyncio.sleep(max(0.0, busy_start + args.busy - time.monotonic()))
    busy_end = time.monotonic()
    bulk, replies = sent_between(api, busy_start, busy_end)
    stop_all.set()
    await asyncio.gather(*workers, return_exceptions=True)
    job_results = await asyncio.gather(*jobs, return_exceptions=True)
    await ticking
    sent, first, last = await backlog_outcome(url)
    await bot.stop()

    delivered = Counter(
        message.get("text", "")
        for i in range(args.backlog)
        for message in api.sent_messages(BACKLOG_BASE + i)
    )
    lost = sum(1 for i in range(args.backlog) if not api.sent_messages(BACKLOG_BASE + i))
    duplicated = sum(1 for count in delivered.values() if count > 1)
    busy_seconds = busy_end - busy_start
    idle_steps = steps.between(idle_start, idle_end)
    busy_steps = steps.between(busy_start, flood_start) + steps.between(flood_end, busy_end)
    flood_steps = steps.between(flood_start, flood_end)
    idle_p99 = percentile(idle_steps, 99)
    busy_p99 = percentile(busy_steps, 99)
    flood_p99 = percentile(flood_steps, 99)
    left_for_bulk = max(0.0, 30.0 - replies / busy_seconds)
    outbox_rate = bulk / busy_seconds
    print()
    print(f"reports in the database: {args.reports:,}; people {args.people}, liaisons 5")
    print(
        f"phases: idle {idle_end - idle_start:.0f} s, busy {busy_seconds:.0f} s, the flood's "
        f"200 messages answered or dropped in {flood_end - flood_start:.1f} s"
    )
    outcomes = [
        type(r).__name__ if isinstance(r, BaseException) else len(r) if isinstance(r, list) else r
        for r in job_results
    ]
    print(f"jobs (scan, digest, unrated): {outcomes}")
    print(
        f"longest event-loop stall: {max(stalls) * 1000:.0f} ms "
        f"(idle phase {idle_stall * 1000:.0f} ms)   target < 50 ms"
    )
    print(
        f"people's step latency idle: p50 {percentile(idle_steps, 50) * 1000:.0f} ms, "
        f"p99 {idle_p99 * 1000:.0f} ms ({len(idle_steps)} steps)"
    )
    print(
        f"people's step latency busy: p50 {percentile(busy_steps, 50) * 1000:.0f} ms, "
        f"p99 {busy_p99 * 1000:.0f} ms ({len(busy_steps)} steps)"
        f"   target p99 ≤ 1.5× idle ({busy_p99 / idle_p99:.2f}×) and < 500 ms"
    )
    print(
        f"others' p99 while one account floods: {flood_p99 * 1000:.0f} ms "
        f"({len(flood_steps)} steps), {flood_p99 / busy_p99 - 1:+.0%} against busy"
        "   target within 20%"
    )
    liaison_steps = steps.between(idle_start, busy_end, "liaison")
    print(
        f"liaisons' step latency: p50 {percentile(liaison_steps, 50) * 1000:.0f} ms, "
        f"p99 {percentile(liaison_steps, 99) * 1000:.0f} ms ({len(liaison_steps)} steps)"
    )
    print(
        f"sent in the busy phase: {bulk / busy_seconds:.1f}/s of the backlog, "
        f"{replies / busy_seconds:.1f}/s to everybody else; the backlog used "
        f"{outbox_rate / left_for_bulk:.0%} of the {left_for_bulk:.1f}/s the replies left of 30/s"
        "   target ≥ 90%"
    )
    if first is not None and last is not None and last > first:
        print(
            f"backlog messages marked sent: {sent:,} ({sent / (last - first):.1f}/s between the "
            "first and the last)"
        )
    print(
        f"429 answers: {api.stats.rate_limited} "
        f"(per chat: {sum(api.stats.rate_limited_chats.values())})   target 0"
    )
    print(
        f"backlog messages lost (marked sent, never delivered): "
        f"{max(0, sent - (args.backlog - lost))}, duplicated: {duplicated}   target 0 and 0"
    )
    print(f"peak RSS of the bot process: {rss_mb():.0f} MB   target < 300 MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="reuse this file when it exists (it is changed)")
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--busy", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="zf-scale-") as tmp:
        folder = Path(tmp)
        path = args.db or folder / "scale.db"
        if not path.exists():
            began = time.perf_counter()
            from db import migrate

            migrate.upgrade(f"sqlite+aiosqlite:///{path}")
            # In a child process, so its memory is not the bot's peak RSS.
            child = multiprocessing.get_context("spawn").Process(
                target=generate, args=(path, args.reports, 500, 12)
            )
            child.start()
            child.join()
            print(f"generated {args.reports:,} reports in {time.perf_counter() - began:.0f} s")
        else:
            upgrade_reused(path)
        asyncio.run(run(args, path, folder))


if __name__ == "__main__":
    main()
