"""Benchmark: many people filing reports at once, against a bare echo bot in the same run.

    .venv/bin/python bench/report_flow.py [--users 150] [--concurrency 50]

This process serves the Bot API double over HTTP on loopback and plays the people; each bot
runs in a process of its own with long polling, as in production (Zhengfeng on a fresh SQLite
file on disk with the sample units). Every simulated person waits for the bot's answer before the
next step, so the figures are closed-loop: steps per second and the reply latency of each step
(update offered → the bot's expected message arrives).

Target (issue 2): the report flow reaches at least 50% of the echo bot's steps per second.

Both bots run with their rate limiters lifted (python-telegram-bot's AIORateLimiter for the echo
bot, the send budget's `[rate_limit]` for Zhengfeng): Telegram's 30 messages a second belong to
Telegram, and here they would cap both bots at the same figure and hide what the bot costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.fakeapi import FakeBotApi, FakeUser  # noqa: E402
from bot.fakeapi.http import serve  # noqa: E402

Message = dict[str, Any]
Predicate = Callable[[Message], bool]
UNLIMITED_RATE = 100_000


class WatchedApi(FakeBotApi):
    """The double, telling waiting people when the bot sent them the message they wait for."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: dict[int, tuple[Predicate, asyncio.Future[Message]]] = {}
        self.polling = asyncio.Event()

    async def handle(self, method: str, params: Any, files: Any = None) -> tuple[int, Any]:
        if method == "getUpdates":
            self.polling.set()
        status, body = await super().handle(method, params, files)
        if method in ("sendMessage", "editMessageText") and body.get("ok"):
            message = body["result"]
            waiter = self.waiters.get(message["chat"]["id"])
            if waiter is not None and waiter[0](message) and not waiter[1].done():
                waiter[1].set_result(message)
        return status, body


def has_button(prefix: str) -> Predicate:
    return lambda m: any(
        (b.get("callback_data") or "").startswith(prefix)
        for row in m.get("reply_markup", {}).get("inline_keyboard", [])
        for b in row
    )


def contains(text: str) -> Predicate:
    return lambda m: text in m.get("text", "")


def first_button(message: Message, prefix: str) -> str:
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data", "").startswith(prefix):
                return str(button["callback_data"])
    raise LookupError(prefix)


@dataclass
class Figures:
    name: str
    steps: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    timeouts: int = 0
    api_calls: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0
    """CPU time the bot process used while the people were served (user + system)."""
    think: float = 0.0
    """Seconds a person takes to read an answer before the next step (0: none, as here)."""
    think_at_random: bool = False
    """Draw each think time at random (exponentially, `think` on average) instead: people with
    one fixed think time who start together stay in step, and their waves of simultaneous
    updates measure the waves (bench/load.py's half rate). bench/scale.py keeps the fixed 1 s
    of its issue: a person who steps faster than one a second meets their chat's own limit."""
    rng: random.Random = field(default_factory=lambda: random.Random(11))
    ended: list[float] = field(default_factory=list)
    """When each step ended (time.monotonic), beside its latency, to cut a run into phases."""
    kinds: list[str] = field(default_factory=list)
    """What each step sent: a command, text, or a button's callback prefix."""

    @property
    def rate(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def line(self) -> str:
        return (
            f"{self.name:<12} {self.steps:>6} steps in {self.seconds:6.2f} s = "
            f"{self.rate:7.1f} steps/s   p50 {self.quantile(0.5):7.1f} ms   "
            f"p99 {self.quantile(0.99):7.1f} ms   bot CPU {self.cpu_per_step:5.1f} ms/step   "
            f"timeouts {self.timeouts}\n{'':<13}Bot API calls per step: "
            + ", ".join(f"{m} {n / self.steps:.2f}" for m, n in self.api_calls.most_common())
        )

    @property
    def cpu_per_step(self) -> float:
        return self.cpu_seconds / self.steps * 1000 if self.steps else float("nan")


def step_kind(update: Message) -> str:
    if "callback_query" in update:
        return str(update["callback_query"]["data"]).split(":")[0] + ":"
    text = str(update.get("message", {}).get("text", ""))
    return text.split()[0] if text.startswith("/") else "text"


async def step(
    api: WatchedApi, user: FakeUser, update: Message, expect: Predicate, figures: Figures
) -> Message | None:
    future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    api.waiters[user.id] = (expect, future)
    started = time.perf_counter()
    api.enqueue_update(update)
    try:
        # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation that comes
        # as the answer does, and a person cancelled at the end of a run would go on forever.
        async with asyncio.timeout(30):
            message = await future
    except TimeoutError:
        figures.timeouts += 1
        return None
    finally:
        api.waiters.pop(user.id, None)
    figures.latencies.append(time.perf_counter() - started)
    figures.ended.append(time.monotonic())
    figures.kinds.append(step_kind(update))
    figures.steps += 1
    if figures.think:
        pause = figures.think
        if figures.think_at_random:
            pause = figures.rng.expovariate(1 / figures.think)
        await asyncio.sleep(pause)
    return message


async def echo_person(api: WatchedApi, user: FakeUser, steps: int, figures: Figures) -> None:
    for i in range(steps):
        text = f"message {i} from {user.id}"
        await step(api, user, api.message_update(user, text), contains(text), figures)


async def report_person(
    api: WatchedApi, user: FakeUser, mode: str, figures: Figures, unit: str = "公安"
) -> None:
    """The whole report flow, answering each question as a person would; `unit` is typed to
    find the unit, whose id must begin with 1 (市公安局 among the sample units)."""
    msg = await step(api, user, api.message_update(user, "/report"), has_button("rc:"), figures)
    if msg is None:
        return
    press = lambda m, data: api.callback_update(user, m, data)  # noqa: E731
    msg = await step(api, user, press(msg, first_button(msg, "rc:")), has_button("rd:"), figures)
    if msg is None:
        return
    msg = await step(api, user, api.message_update(user, unit), has_button("rd:1"), figures)
    if msg is None:
        return
    msg = await step(
        api, user, press(msg, first_button(msg, "rd:")), contains("Step 3 of 6"), figures
    )
    description = f"窗口工作人员推诿扯皮，要求反复提交材料，编号{user.id}。"
    msg = await step(api, user, api.message_update(user, description), has_button("rt:"), figures)
    if msg is None:
        return
    msg = await step(api, user, press(msg, "rt:skip"), has_button("rv:"), figures)
    if msg is None:
        return
    msg = await step(api, user, press(msg, "rv:done"), has_button("ri:"), figures)
    if msg is None:
        return
    if mode == "real_name":
        await step(api, user, press(msg, "ri:real_name"), contains("name"), figures)
        await step(api, user, api.message_update(user, "李四"), contains("phone"), figures)
        update = api.message_update(user, "13800138000")
    else:
        update = press(msg, f"ri:{mode}")
    msg = await step(api, user, update, has_button("rs:confirm"), figures)
    if msg is None:
        return
    await step(api, user, press(msg, first_button(msg, "rs:confirm")), contains("ZF"), figures)


async def run_people(
    api: WatchedApi, figures: Figures, people: list[Callable[[], Any]], concurrency: int
) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(person: Callable[[], Any]) -> None:
        async with gate:
            await person()

    started = time.perf_counter()
    await asyncio.gather(*(one(p) for p in people))
    figures.seconds = time.perf_counter() - started


def spawn(
    kind: str,
    root_url: str,
    workdir: Path,
    env_extra: dict[str, str] | None = None,
    script: Path | None = None,
) -> subprocess.Popen[bytes]:
    """A bot process (`script --serve-KIND`, this file by default) against the double, with
    Telegram's limits and the flood gate lifted; `env_extra` adds or overrides settings."""
    env = dict(os.environ)
    env.update(
        {
            "ZHENGFENG_TELEGRAM__TOKEN": FakeBotApi().token,
            "ZHENGFENG_TELEGRAM__API_BASE_URL": f"{root_url}/bot",
            "ZHENGFENG_TELEGRAM__FILE_BASE_URL": f"{root_url}/file/bot",
            "ZHENGFENG_DATABASE__URL": f"sqlite+aiosqlite:///{workdir}/bench.db",
            "ZHENGFENG_DATA_DIR": str(workdir / "data"),
            # Telegram's limits lifted (see above), and the flood gate: a simulated person
            # answers faster than a person types.
            "ZHENGFENG_RATE_LIMIT__OVERALL_PER_SECOND": "0",
            "ZHENGFENG_RATE_LIMIT__CHAT_INTERVAL_SECONDS": "0",
            "ZHENGFENG_FLOOD__UPDATES": "1000000",
            "ZHENGFENG_LOG_LEVEL": "WARNING",
            **(env_extra or {}),
        }
    )
    # BENCH_PROFILE=DIR writes a cProfile of each bot process there, to see where time goes.
    profile = os.environ.get("BENCH_PROFILE")
    label = f"{kind}-{env.get('ZHENGFENG_WEBHOOK__PORT', 'polling')}"
    wrap = ["-m", "cProfile", "-o", f"{profile}/{label}.prof"] if profile else []
    return subprocess.Popen(
        [sys.executable, *wrap, str(script or Path(__file__).resolve()), f"--serve-{kind}"],
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
    )


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM), from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_until_polling(api: WatchedApi) -> None:
    async with asyncio.timeout(60):
        await api.polling.wait()


async def measure(kind: str, users: int, concurrency: int, workdir: Path) -> tuple[Figures, int]:
    api = WatchedApi()
    runner, root, _files = await serve(api)
    process = spawn(kind, root, workdir)
    try:
        await wait_until_polling(api)
        figures = Figures("echo bot" if kind == "echo" else "report flow")
        rng = random.Random(7)
        people: list[Callable[[], Any]] = []
        for i in range(users):
            user = FakeUser(id=100_000 + i, first_name=f"P{i}", language_code="en")
            if kind == "echo":
                people.append(lambda u=user: echo_person(api, u, 10, figures))
            else:
                mode = rng.choice(["real_name", "anonymous", "fully_anonymous"])
                people.append(lambda u=user, m=mode: report_person(api, u, m, figures))
        cpu_before = process_cpu_seconds(process.pid)
        calls_before = len(api.calls)
        await run_people(api, figures, people, concurrency)
        figures.cpu_seconds = process_cpu_seconds(process.pid) - cpu_before
        figures.api_calls = Counter(c.method for c in api.calls[calls_before:])
        return figures, len(api.violations)
    finally:
        process.terminate()
        process.wait(timeout=30)
        await runner.cleanup()


def serve_echo() -> None:
    """A bare python-telegram-bot echo bot with the same settings as the product."""
    from telegram import Update
    from telegram.ext import AIORateLimiter, ApplicationBuilder, MessageHandler, filters

    async def echo(update: Update, _context: object) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    app = (
        ApplicationBuilder()
        .token(os.environ["ZHENGFENG_TELEGRAM__TOKEN"])
        .base_url(os.environ["ZHENGFENG_TELEGRAM__API_BASE_URL"])
        .concurrent_updates(64)
        .rate_limiter(AIORateLimiter(overall_max_rate=UNLIMITED_RATE))
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling()


def serve_zhengfeng() -> None:
    from bot.app import build_application, poll
    from bot.runtime.settings import load_settings
    from db.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database.url)
    asyncio.run(load_sample_units(settings.database.url))
    poll(build_application(settings))


async def load_sample_units(url: str) -> None:
    from db.engine import create_engine, session_factory
    from db.people.departments import import_departments, parse_departments_csv, sample_csv_path

    engine = create_engine(url)
    async with session_factory(engine)() as session:
        await import_departments(session, parse_departments_csv(sample_csv_path().read_bytes()))
        await session.commit()
    await engine.dispose()


async def main(users: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        echo, echo_violations = await measure("echo", users, concurrency, Path(tmp))
        flow, flow_violations = await measure("zhengfeng", users, concurrency, Path(tmp))
    print(f"{users} people, {concurrency} at once, Bot API double over HTTP on loopback")
    print(echo.line())
    print(flow.line())
    ratio = flow.rate / echo.rate if echo.rate else 0.0
    print(f"ratio report flow / echo bot (steps per second): {ratio:.2f}  (target >= 0.50)")
    print(f"Bot API violations: echo {echo_violations}, report flow {flow_violations}")
    print(
        json.dumps(
            {
                "echo_steps_per_s": round(echo.rate, 1),
                "flow_steps_per_s": round(flow.rate, 1),
                "ratio": round(ratio, 3),
                "flow_p50_ms": round(flow.quantile(0.5), 1),
                "flow_p99_ms": round(flow.quantile(0.99), 1),
                "echo_p50_ms": round(echo.quantile(0.5), 1),
                "echo_p99_ms": round(echo.quantile(0.99), 1),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=150)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--serve-echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-zhengfeng", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo:
        serve_echo()
    elif args.serve_zhengfeng:
        serve_zhengfeng()
    else:
        asyncio.run(main(args.users, args.concurrency))
