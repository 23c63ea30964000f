"""Benchmark: mixed traffic on SQLite and on PostgreSQL, with one and with two bot processes.

    .venv/bin/python bench/load.py [--users 120] [--concurrency 40]

This process serves the Bot API double over HTTP on loopback, with Telegram's limits lifted in
the double and in the bots (so that the bots, not the limits, are measured), and plays the
people: most file a report step by step (`bench/report_flow.py`'s person), some look up their
reports (/myreports) and the office lists its cases (/cases). Each person waits for the bot's
answer before the next step (closed loop). In the same run:

* **echo**: the bare python-telegram-bot echo bot, long polling;
* **sqlite ×1**: Zhengfeng, long polling, on a fresh SQLite file;
* **postgres ×1** and **postgres ×2**: Zhengfeng on a fresh PostgreSQL database (the server of
  `ZHENGFENG_TEST_PG_URL`, as the tests use it) behind its webhook (`zhengfeng run --webhook`),
  one process or two; this process posts each update, with the secret token, to either
  process, as a load balancer in front of them would.

Printed per configuration: updates per second at full load, p50/p99, peak memory of each bot
process, and the p50/p99 of a second run offered about half that rate (each person thinking
between steps).

On a small machine the bots, PostgreSQL and this process share the same few cores, and two bot
processes cannot go faster than the cores let them, whatever they share or not. `--bot-cpu C`
puts each bot process (the echo bot too) in a cgroup of its own limited to C of a core (Linux,
cgroup v1 or v2, as root), as if each ran on a small machine of its own: then what two
processes gain over one is what the design lets them gain.

Targets (issue 15): mixed traffic at least 50% of the echo bot's updates per second on each
engine; two processes on PostgreSQL at least 1.6× one; p99 under 5× p50 at half
the maximum rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report_flow import (  # noqa: E402
    Figures,
    Message,
    WatchedApi,
    echo_person,
    load_sample_units,
    peak_rss_mb,
    process_cpu_seconds,
    report_person,
    serve_echo,
    step,
)
from bench.report_flow import spawn as spawn_bot  # noqa: E402
from bot.fakeapi import FakeUser  # noqa: E402
from bot.fakeapi.http import serve  # noqa: E402
from tests import databases  # noqa: E402

SECRET = "bench-secret-token"
ADMIN_ID = 9
BASE_PORT = 18_080


class PostingApi(WatchedApi):
    """The double, but an update is posted to a bot's webhook instead of waiting in getUpdates:
    to either process at random, as a load balancer spreads requests."""

    def __init__(self, hooks: list[str]) -> None:
        super().__init__()
        self.hooks = hooks
        self.session: aiohttp.ClientSession | None = None
        self.rng = random.Random(3)
        self.posts: set[asyncio.Task[None]] = set()

    def enqueue_update(self, update: Message) -> None:
        task = asyncio.get_running_loop().create_task(self._post(update))
        self.posts.add(task)
        task.add_done_callback(self.posts.discard)

    async def _post(self, update: Message) -> None:
        assert self.session is not None
        hook = self.rng.choice(self.hooks)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with self.session.post(hook, json=update, headers=headers) as response:
            if response.status != 200:
                print(f"webhook answered {response.status}", file=sys.stderr)


async def mixed_person(api: WatchedApi, user: FakeUser, figures: Figures, index: int) -> None:
    """Mostly the report flow; every fifth person then looks up their reports; one admin lists
    the office's cases five times."""
    if user.id == ADMIN_ID:
        for _ in range(5):
            await step(api, user, api.message_update(user, "/cases"), lambda _m: True, figures)
        return
    mode = ["real_name", "anonymous", "fully_anonymous"][index % 3]
    await report_person(api, user, mode, figures)
    if index % 5 == 0:
        # Fully anonymous reports are not listed (nothing links them to the account): any
        # answer will do.
        await step(api, user, api.message_update(user, "/myreports"), lambda _m: True, figures)


@dataclass
class Run:
    name: str
    full: Figures
    half: Figures
    peak_mb: list[float]
    cpu_ms: dict[str, float]
    """CPU per update at full load: the bots, the PostgreSQL server, this process."""
    machine_busy: float
    """The share of the machine's cores busy at full load (steal included): near 1, more
    processes cannot go faster here, whatever they share or not."""


def machine_ticks() -> tuple[int, int]:
    """(busy, all) clock ticks of every core since boot, from /proc/stat (Linux); guest time,
    already inside user time, is not counted twice."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def postgres_cpu_seconds() -> float:
    """CPU time of the PostgreSQL server's processes on this machine (all of them: the bench's
    database is the only busy one), from /proc; 0 where none is visible. A backend that exits
    during the run takes its CPU time with it: the figure is a lower bound."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if Path(stat.parent, "comm").read_text().strip() == "postgres":
                total += process_cpu_seconds(int(stat.parent.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
    return total


def spawn(kind: str, root: str, workdir: Path, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    """`bench/report_flow.py`'s bot process, started from this file, with one admin."""
    extra = {"ZHENGFENG_ADMIN_IDS": f"[{ADMIN_ID}]", **extra}
    return spawn_bot(kind, root, workdir, extra, Path(__file__).resolve())


async def ready(api: WatchedApi, hooks: list[str]) -> None:
    """Polling bots ask for updates; webhook bots answer /healthz."""
    async with asyncio.timeout(90):
        if not hooks:
            await api.polling.wait()
            return
        async with aiohttp.ClientSession() as session:
            for hook in hooks:
                health = hook.rsplit("/", 1)[0] + "/healthz"
                while True:
                    try:
                        async with session.get(health) as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)


async def drive(
    api: WatchedApi, name: str, users: int, concurrency: int, think: float, echo: bool
) -> Figures:
    figures = Figures(name)
    figures.think, figures.think_at_random = think, True
    gate = asyncio.Semaphore(concurrency)
    base = 100_000 + int(time.monotonic() * 1000) % 1_000_000 * 10

    async def one(index: int) -> None:
        if think:
            # Arrive spread over a think time, not all in the first millisecond.
            await asyncio.sleep(figures.rng.uniform(0, think))
        async with gate:
            if echo:
                user = FakeUser(base + index, f"P{index}", language_code="en")
                await echo_person(api, user, 10, figures)
                return
            # One admin among the people: a chat waits for one answer at a time here.
            user_id = ADMIN_ID if index == 9 else base + index
            user = FakeUser(user_id, f"P{index}", language_code="en")
            await mixed_person(api, user, figures, index)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(users)))
    figures.seconds = time.perf_counter() - started
    return figures


async def measure(
    name: str, kind: str, processes: int, users: int, concurrency: int, workdir: Path
) -> Run:
    postgres = kind == "postgres"
    hooks = (
        [f"http://127.0.0.1:{BASE_PORT + i}/telegram" for i in range(processes)] if postgres else []
    )
    api: WatchedApi = PostingApi(hooks) if postgres else WatchedApi()
    runner, root, _files = await serve(api)
    url = databases.create_database() if postgres else f"sqlite+aiosqlite:///{workdir}/{name}.db"
    if kind != "echo":
        await load_sample_units_once(url, postgres)
    bots: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(processes):
            extra = {"ZHENGFENG_DATABASE__URL": url}
            if postgres:
                extra |= {
                    "ZHENGFENG_WEBHOOK__URL": "https://bench.invalid",
                    "ZHENGFENG_WEBHOOK__SECRET_TOKEN": SECRET,
                    "ZHENGFENG_WEBHOOK__PORT": str(BASE_PORT + i),
                }
            serve_kind = "echo" if kind == "echo" else ("webhook" if postgres else "polling")
            bots.append(spawn(serve_kind, root, workdir, extra))
            if BOT_CPU:
                limit_cpu(bots[-1].pid, BOT_CPU)
        if isinstance(api, PostingApi):
            api.session = aiohttp.ClientSession()
        await ready(api, hooks)
        echo = kind == "echo"
        cpu = [sum(process_cpu_seconds(b.pid) for b in bots), postgres_cpu_seconds()]
        own = time.process_time()
        ticks = machine_ticks()
        full = await drive(api, name, users, concurrency, 0.0, echo)
        busy, every = (after - before for after, before in zip(machine_ticks(), ticks, strict=True))
        spent = [
            sum(process_cpu_seconds(b.pid) for b in bots) - cpu[0],
            postgres_cpu_seconds() - cpu[1],
            time.process_time() - own,
        ]
        cpu_ms = {
            what: seconds / full.steps * 1000
            for what, seconds in zip(("bots", "postgres", "bench"), spent, strict=True)
            if full.steps and (what != "postgres" or postgres)
        }
        # Half the rate: each person reads the answer before the next step, long enough that
        # the people together offer about half of what the bots just managed.
        think = 2 * concurrency / full.rate if full.rate else 1.0
        half = await drive(api, name, users, concurrency, think, echo)
        peaks = [peak_rss_mb(b.pid) for b in bots]
        return Run(name, full, half, peaks, cpu_ms, busy / every if every else float("nan"))
    finally:
        if isinstance(api, PostingApi) and api.session is not None:
            await api.session.close()
        for bot in bots:
            bot.terminate()
        try:
            for bot in bots:
                bot.wait(timeout=60)
        finally:
            remove_cgroups()
        await runner.cleanup()
        if postgres:
            databases.drop_database(url)


async def load_sample_units_once(url: str, postgres: bool) -> None:
    from db.engine import create_engine
    from db.migrate import upgrade_engine

    engine = create_engine(url)
    await upgrade_engine(engine)
    await engine.dispose()
    await load_sample_units(url)


def serve_polling() -> None:
    from bot.app import build_application, poll
    from bot.runtime.settings import load_settings

    poll(build_application(load_settings()))


def serve_webhook() -> None:
    from bot.app import build_application
    from bot.runtime.settings import load_settings
    from bot.web import serve

    serve(build_application(load_settings()))


BOT_CPU: float | None = None
"""`--bot-cpu`: each bot process's share of a core, or None for no limit."""


def limit_cpu(pid: int, cores: float) -> None:
    """Put the process in a cgroup of its own limited to `cores` of a core (CFS quota)."""
    period = 100_000
    quota = max(1_000, int(cores * period))
    v2 = Path("/sys/fs/cgroup/cgroup.controllers")
    if v2.exists():
        group = Path(f"/sys/fs/cgroup/zhengfeng-bench-{pid}")
        group.mkdir()
        (group / "cpu.max").write_text(f"{quota} {period}")
    else:
        group = Path(f"/sys/fs/cgroup/cpu/zhengfeng-bench-{pid}")
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(period))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    (group / "cgroup.procs").write_text(str(pid))
    CGROUPS.append(group)


CGROUPS: list[Path] = []


def remove_cgroups() -> None:
    """The bots have exited: their empty groups can go."""
    for group in CGROUPS:
        for _ in range(50):  # a process that has just exited may linger there a moment
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)
    CGROUPS.clear()


CONFIGURATIONS = {
    "echo": ("echo", "echo", 1),
    "sqlite": ("sqlite ×1", "sqlite", 1),
    "postgres1": ("postgres ×1", "postgres", 1),
    "postgres2": ("postgres ×2", "postgres", 2),
}


async def main(users: int, concurrency: int, only: list[str]) -> None:
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in only:
            name, kind, processes = CONFIGURATIONS[key]
            runs.append(await measure(name, kind, processes, users, concurrency, Path(tmp)))
            run = runs[-1]
            print(
                f"{name:<12} {run.full.rate:6.1f} updates/s  p50 {run.full.quantile(0.5):6.1f} ms"
                f"  p99 {run.full.quantile(0.99):7.1f} ms  timeouts {run.full.timeouts}"
                f"  | at half the rate ({run.half.rate:5.1f}/s): p50 "
                f"{run.half.quantile(0.5):6.1f} ms  p99 {run.half.quantile(0.99):7.1f} ms"
                f" ({run.half.quantile(0.99) / run.half.quantile(0.5):.1f}× p50)"
                f"  | peak memory {', '.join(f'{m:.0f} MB' for m in run.peak_mb)}"
                f"  | CPU per update: "
                + ", ".join(f"{what} {ms:.1f} ms" for what, ms in run.cpu_ms.items())
                + f"  | the machine {run.machine_busy:.0%} busy",
                flush=True,
            )
    databases.drop_template()
    limited = f"; each bot process limited to {BOT_CPU:g} of a core" if BOT_CPU else ""
    print(
        f"(this machine has {os.cpu_count()} cores for the bots, PostgreSQL and the bench{limited})"
    )
    by = {run.name: run for run in runs}
    if "echo" in by:
        echo = by["echo"].full.rate
        for name in ("sqlite ×1", "postgres ×1", "postgres ×2"):
            if name in by:
                ratio = by[name].full.rate / echo
                print(f"{name}: {ratio:.2f} of the echo bot's rate  (target ≥ 0.50)")
    if "postgres ×1" in by and "postgres ×2" in by:
        scale = by["postgres ×2"].full.rate / by["postgres ×1"].full.rate
        print(f"two processes on PostgreSQL: {scale:.2f}× one  (target ≥ 1.6)")
    print(
        "p99 at half the rate under 5× p50: "
        + ", ".join(
            f"{run.name} {run.half.quantile(0.99) / run.half.quantile(0.5):.1f}×" for run in runs
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=120)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(CONFIGURATIONS),
        default=list(CONFIGURATIONS),
        help="run these configurations (all by default; the ratios need their pairs)",
    )
    parser.add_argument(
        "--bot-cpu",
        type=float,
        default=None,
        help="limit each bot process to this share of a core (a cgroup; Linux, as root)",
    )
    for kind in ("echo", "polling", "webhook"):
        parser.add_argument(f"--serve-{kind}", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        serve_echo()
    elif args.serve_polling:
        serve_polling()
    elif args.serve_webhook:
        serve_webhook()
    else:
        BOT_CPU = args.bot_cpu
        asyncio.run(main(args.users, args.concurrency, args.only))
