"""Proof: two bot processes on PostgreSQL behind their webhooks, killed with SIGKILL while people
file reports.

    .venv/bin/python bench/crash.py [--people 200] [--kills 5] [--seed 1] [--sqlite]

This process serves the Bot API double over HTTP and plays Telegram's webhook delivery and the
people. Two `zhengfeng run --webhook` processes share a fresh PostgreSQL database (the server
of `ZHENGFENG_TEST_PG_URL`). Each update goes to either process; when one does not answer
(it is dead), it goes to the other, as Telegram retries a webhook and a load balancer routes
around a dead backend. `--kills` times, at random moments, one of the two processes (the leader
of the jobs when `/healthz` says so, every other time) is killed with SIGKILL and started again.

`--sqlite`: one process on a SQLite file instead (SQLite serves one process), killed and
restarted the same way; while it is down, Telegram's deliveries wait and are retried.

A person answers whatever the bot last asked (`bench/bad_day.py`'s person); with no answer
within 3 s they send /report to be shown the current question again. After pressing Submit they
are done once they know the report went in (its receipt, or /report offering a new one); shown
the confirmation again, they press Submit again. At the end everyone sends /start, and the bots
get 40 s for their outbox (a dead process's unconfirmed sends are taken over once its heartbeat
has run out).

Printed, from the double's record: reports stored, and for each stored report how many
acknowledgements reached its author (once, more than once, never); reports half made (a draft
submitted without a report is not one: the flow keeps drafts); the outbox's in-doubt count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bad_day import (  # noqa: E402
    Person,
    _next_update,
    acknowledgements,
    outbox_in_doubt,
    stored_authors,
)
from bench.load import (  # noqa: E402
    BASE_PORT,
    SECRET,
    load_sample_units_once,
    spawn,
)
from bot.fakeapi import FakeBotApi, FakeUser  # noqa: E402
from bot.fakeapi.http import serve  # noqa: E402
from tests import databases  # noqa: E402

ANSWER_WAIT = 3.0


class Cluster:
    """The two bot processes, their webhook addresses, and who is up."""

    def __init__(self, root: str, workdir: Path, url: str) -> None:
        self.root, self.workdir, self.url = root, workdir, url
        self.processes: dict[int, Any] = {}
        self.up: dict[int, bool] = {}

    def start(self, port: int) -> None:
        extra = {
            "ZHENGFENG_DATABASE__URL": self.url,
            "ZHENGFENG_WEBHOOK__URL": "https://bench.invalid",
            "ZHENGFENG_WEBHOOK__SECRET_TOKEN": SECRET,
            "ZHENGFENG_WEBHOOK__PORT": str(port),
        }
        self.processes[port] = spawn("webhook", self.root, self.workdir, extra)

    async def wait_up(self, session: aiohttp.ClientSession, port: int) -> None:
        async with asyncio.timeout(90):
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                        if answer.status == 200:
                            self.up[port] = True
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)

    async def role(self, session: aiohttp.ClientSession, port: int) -> str:
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as answer:
                return str((await answer.json()).get("role"))
        except (aiohttp.ClientError, ValueError):
            return "?"

    def kill(self, port: int) -> None:
        self.up[port] = False
        self.processes[port].send_signal(signal.SIGKILL)
        self.processes[port].wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=60)


async def deliver(
    session: aiohttp.ClientSession, cluster: Cluster, update: dict[str, Any], rng: random.Random
) -> None:
    """To a live process, or the other when it fails, until one takes it (Telegram retries)."""
    for _ in range(50):
        ports = [p for p, up in cluster.up.items() if up] or list(cluster.up)
        port = rng.choice(ports)
        try:
            async with session.post(
                f"http://127.0.0.1:{port}/telegram",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                timeout=aiohttp.ClientTimeout(total=5),
            ) as answer:
                if answer.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.2)


async def person_files(
    api: FakeBotApi,
    session: aiohttp.ClientSession,
    cluster: Cluster,
    person: Person,
    rng: random.Random,
) -> None:
    while person.actions < 80:
        move = _next_update(api, person)
        if move is None:
            return
        update, submits = move
        person.actions += 1
        before = len(api.calls)
        await deliver(session, cluster, update, rng)
        person.submitted |= submits
        started = time.monotonic()
        while time.monotonic() - started < ANSWER_WAIT:
            await asyncio.sleep(0.05)
            if any(str(c.params.get("chat_id")) == str(person.user.id) for c in api.calls[before:]):
                break
        await asyncio.sleep(rng.uniform(0.2, 1.0))  # reading the question


async def killer(
    cluster: Cluster, session: aiohttp.ClientSession, kills: int, rng: random.Random
) -> list[str]:
    killed: list[str] = []
    for i in range(kills):
        await asyncio.sleep(rng.uniform(3, 8))
        roles = {port: await cluster.role(session, port) for port in cluster.up}
        leaders = [port for port, role in roles.items() if role == "leader"]
        port = leaders[0] if i % 2 == 0 and leaders else rng.choice(list(cluster.up))
        killed.append(roles.get(port, "?"))
        cluster.kill(port)
        await asyncio.sleep(rng.uniform(0.5, 2))
        cluster.start(port)
        await cluster.wait_up(session, port)
    return killed


async def main(people: int, kills: int, seed: int, sqlite: bool) -> None:
    rng = random.Random(seed)
    api = FakeBotApi()
    runner, root, _files = await serve(api)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/crash.db" if sqlite else databases.create_database()
        await load_sample_units_once(url, not sqlite)
        cluster = Cluster(root, Path(tmp), url)
        try:
            async with aiohttp.ClientSession() as session:
                for i in range(1 if sqlite else 2):
                    cluster.start(BASE_PORT + i)
                for port in list(cluster.processes):
                    await cluster.wait_up(session, port)
                modes = ["Real name", "Anonymous", "Fully anonymous"]
                crowd = [
                    Person(FakeUser(600_000 + i, f"P{i}", language_code="en"), modes[i % 3])
                    for i in range(people)
                ]
                gate = asyncio.Semaphore(60)

                async def one(person: Person) -> None:
                    async with gate:
                        await person_files(
                            api, session, cluster, person, random.Random(rng.random())
                        )

                started = time.monotonic()
                killing = asyncio.create_task(killer(cluster, session, kills, random.Random(seed)))
                await asyncio.gather(*(one(p) for p in crowd))
                killed = await killing
                for person in crowd:
                    await deliver(session, cluster, api.message_update(person.user, "/start"), rng)
                await asyncio.sleep(40)  # the outbox, and a dead process's heartbeat running out
                seconds = time.monotonic() - started
        finally:
            cluster.stop_all()
            await runner.cleanup()
        stored = await stored_authors(url)
        in_doubt = await outbox_in_doubt(url)
    if not sqlite:
        databases.drop_database(url)
        databases.drop_template()
    acks = acknowledgements(
        stored,
        (
            (int(str(c.params.get("chat_id"))), str(c.params.get("text", "")))
            for c in api.calls
            if c.status == 200 and c.method in ("sendMessage", "editMessageText")
        ),
    )
    print(
        {
            "engine": "SQLite, one process" if sqlite else "PostgreSQL, two processes",
            "people": people,
            "pressed Submit": sum(p.submitted for p in crowd),
            "finished (knew their report went in)": sum(p.finished for p in crowd),
            "kills (SIGKILL)": len(killed),
            "roles killed": dict(Counter(killed)),
            "stored reports": len(stored),
            "acknowledged once": acks["once"],
            "acknowledged more than once": acks["more than once"],
            "never acknowledged": acks["never"],
            "outbox in doubt": in_doubt,
            "Bot API violations": len(api.violations),
            "seconds": round(seconds),
        }
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite", action="store_true", help="one process on a SQLite file")
    args = parser.parse_args()
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    asyncio.run(main(args.people, args.kills, args.seed, args.sqlite))
