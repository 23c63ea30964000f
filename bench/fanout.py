"""Benchmark: 10,000 reminders to 10,000 chats through the outbox, against Telegram's 30/s.

    .venv/bin/python bench/fanout.py [--count 10000] [--limit 30]

This process serves the Bot API double over HTTP on loopback; the double refuses more than
`--limit` messages in any second with 429, as Telegram does. The bot runs in a process of its
own with long polling, as in production, on a fresh SQLite file into which the reminders were
queued beforehand (one outbox row per chat). The figures are read at the double: messages
delivered, the sustained rate between the first and the last delivery as a share of the limit,
429 answers, and chats that got none (lost) or more than one (duplicates).

Targets (issue 4): at least 90% of the limit, none lost, no duplicates, under 1% of requests
answered 429.

Every row is queued as urgent: quiet hours (tested on their own) would otherwise hold a run on a
weekend evening until Monday morning.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.fakeapi import FakeBotApi, FakeUser  # noqa: E402
from bot.fakeapi.http import serve  # noqa: E402

FIRST_CHAT = 300_000
DUE = "2026-04-03 23:59"


class CountingApi(FakeBotApi):
    """The double, noting when each message arrived and every 429 it answered."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered: list[tuple[float, int]] = []
        self.refused = 0
        self.requests = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, method: str, params: Any, files: Any = None) -> tuple[int, Any]:
        status, body = await super().handle(method, params, files)
        if method == "sendMessage":
            self.requests += 1
            if status == 429:
                self.refused += 1
            elif body.get("ok"):
                self.delivered.append((time.monotonic(), int(body["result"]["chat"]["id"])))
                if len(self.delivered) >= self.expected:
                    self.done.set()
        return status, body


async def queue_reminders(url: str, count: int) -> None:
    from db.delivery.outbox import enqueue
    from db.engine import create_engine, session_factory

    engine = create_engine(url)
    now = datetime.now(UTC)
    async with session_factory(engine)() as session:
        for i in range(count):
            chat = FIRST_CHAT + i
            await enqueue(
                session,
                key=f"remind:report_reply_due:ZF2026-{i + 1:06d}:-1:2026-04-03:{chat}",
                chat_id=chat,
                text=f"⏰ 提醒：举报 <b>ZF2026-{i + 1:06d}</b>（市公安局）须在 {DUE} 前完成答复。",
                urgent=True,
                now=now,
            )
        await session.commit()
    await engine.dispose()


def spawn(root_url: str, workdir: Path, limit: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "ZHENGFENG_TELEGRAM__TOKEN": FakeBotApi().token,
            "ZHENGFENG_TELEGRAM__API_BASE_URL": f"{root_url}/bot",
            "ZHENGFENG_TELEGRAM__FILE_BASE_URL": f"{root_url}/file/bot",
            "ZHENGFENG_DATABASE__URL": f"sqlite+aiosqlite:///{workdir}/bench.db",
            "ZHENGFENG_DATA_DIR": str(workdir / "data"),
            "ZHENGFENG_RATE_LIMIT__OVERALL_MAX_RATE": str(limit),
            "ZHENGFENG_LOG_LEVEL": "WARNING",
        }
    )
    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve"],
        env=env,
        cwd=workdir,
        stdin=subprocess.DEVNULL,
    )


def serve_bot() -> None:
    from bot.app import build_application
    from bot.runtime.settings import load_settings

    build_application(load_settings()).run_polling()


async def main(count: int, limit: int, wait_seconds: float) -> dict[str, Any]:
    from db.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="zf-fanout-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite+aiosqlite:///{workdir}/bench.db"
        await asyncio.to_thread(upgrade, url)
        started = time.monotonic()
        await queue_reminders(url, count)
        queued_in = time.monotonic() - started

        api = CountingApi()
        api.expected = count
        for i in range(count):
            api.add_user(FakeUser(id=FIRST_CHAT + i, first_name=f"L{i}"))
        api.rate_limit(limit)
        runner, root, _files = await serve(api)
        process = spawn(root, workdir, limit)
        try:
            try:
                async with asyncio.timeout(wait_seconds):
                    await api.done.wait()
            except TimeoutError:
                pass
            await asyncio.sleep(3)  # anything sent twice after the last first copy shows up now
        finally:
            process.terminate()
            process.wait(timeout=30)
            await runner.cleanup()

    per_chat = Counter(chat for _t, chat in api.delivered)
    lost = sum(1 for i in range(count) if per_chat[FIRST_CHAT + i] == 0)
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    first = api.delivered[0][0] if api.delivered else 0.0
    last = api.delivered[-1][0] if api.delivered else 0.0
    rate = (len(per_chat) - 1) / (last - first) if last > first else 0.0
    figures = {
        "messages": count,
        "queued_in_s": round(queued_in, 1),
        "delivered": len(per_chat),
        "lost": lost,
        "duplicates": duplicates,
        "seconds": round(last - first, 1),
        "rate_per_s": round(rate, 2),
        "share_of_limit": round(rate / limit, 3),
        "requests": api.requests,
        "answered_429": api.refused,
        "share_429": round(api.refused / max(1, api.requests), 4),
        "violations": len(api.violations),
    }
    print(f"{count} reminders to {count} chats, double limited to {limit} messages/s")
    print(
        f"delivered {figures['delivered']} in {figures['seconds']} s = {rate:.2f}/s "
        f"({figures['share_of_limit']:.1%} of the limit; target >= 90%)"
    )
    print(f"lost {lost}, duplicates {duplicates} (targets 0 and 0)")
    print(
        f"429 answers {api.refused} of {api.requests} requests = {figures['share_429']:.2%} "
        "(target < 1%)"
    )
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_bot()
    else:
        asyncio.run(main(args.count, args.limit, args.timeout))
