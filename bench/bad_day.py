"""A bad day, tried as a new user would: what people receive when the bot is killed and Telegram
fails.

    .venv/bin/python bench/bad_day.py [--people 200] [--seed 1] [--postgres]

Two runs, each in one process with the real application against the Bot API double and a
controllable clock:

1. **Kills.** `--people` people file a report each (a third each real-name, anonymous and fully
   anonymous), step by step and interleaved; every ~`--kill-every` updates the bot is killed at
   a random point inside the update (the task is cancelled, then the process state is thrown
   away as `kill -9` would) and started again on the same database.
2. **Faults.** The same people again on a fresh database, the bot never killed, but 5% of Bot API
   calls answered 500, 2% of connections dropped before the call and 2% dropped after Telegram
   carried it out (the answer lost), and Telegram's limits on in the double (30 a second, a
   burst of 3 and then 1 a second per chat, 429 beyond them) and in the bot (its default
   `[rate_limit]`). After the reports, the admin sends a broadcast (/broadcast all) to
   `LIAISONS` liaisons through the bot, pressing again where an answer did not come.

A person who gets no answer sends /report to be shown the current question, as people do; after
pressing Submit they are done once they know the report went in (see `_next_update`), and later
send one more message (/start). Then the outbox is given a few hours (of the fake clock) to
retry. Counted from the double: for every stored report, how many acknowledgements (its number
in a "received" message) reached its author; for every liaison, how many copies of the
broadcast; and the 429 answers.

3. **Deadlines.** Reports assigned to a unit with three liaisons; two weeks of the clock, hour by
   hour, with the deadline scan and the sender; the bot down for 1, 2 and 5 days at a time and
   the faults and limits of run 2. Counted: reminders (⏰) that arrived twice (a lost answer may
   make a second copy: each such send is counted in doubt), and reminders that arrived after
   the deadline they announce.

`--postgres` runs the three on a fresh PostgreSQL database each (the server of
`ZHENGFENG_TEST_PG_URL`, as the tests use it), and the kills and faults runs with **two bot
processes** on it: each update goes to either, a kill hits either (the leader of the jobs as
often as not), and a person's next step may land on the other process.

The numbers differ from run to run with `--seed`; the printed figures are what the closing note
of the issue quotes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import col, select  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.error import NetworkError, TimedOut  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.fakeapi import FakeBotApi, FakeRequest, FakeUser  # noqa: E402
from bot.runtime.settings import RateLimitSettings  # noqa: E402
from db.delivery.outbox import counts  # noqa: E402
from db.engine import create_engine, session_factory  # noqa: E402
from db.models import Account, Broadcast, Department, Report, Role  # noqa: E402
from db.people.roles import grant_role  # noqa: E402
from scheduler.deadlines.job import run_deadline_scan  # noqa: E402
from scheduler.office.leadership import keep_lease  # noqa: E402
from tests import databases  # noqa: E402
from tests.harness import Harness, make_settings, prepare_database  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
NUMBER = re.compile(r"ZF\d{4}-\d{6}")
DUE = re.compile(r"by (\d{4}-\d{2}-\d{2} \d{2}:\d{2})")
QUIET_METHODS = ("getUpdates", "getMe", "setMyCommands", "deleteWebhook", "setChatMenuButton")
ADMIN = FakeUser(9, "Admin", language_code="en")
LIAISONS = 30
NOTICE = "请各单位于12月20日前报送自查报告（坏天气演练）。"


@dataclass
class Faults:
    """Random failures of Bot API calls; every delivered message is logged with the fake time."""

    rng: random.Random
    clock: Callable[[], datetime]
    refused: float = 0.0
    dropped_before: float = 0.0
    lost_after: float = 0.0
    delivered: list[tuple[datetime, int, str]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)


class ChaoticRequest(FakeRequest):
    def __init__(self, api: FakeBotApi, faults: Faults) -> None:
        super().__init__(api)
        self.faults = faults

    async def do_request(self, url: str, method: str, request_data: Any = None, **kw: Any) -> Any:
        name = url.rsplit("/", 1)[-1]
        f = self.faults
        if name not in QUIET_METHODS:
            roll = f.rng.random()
            if roll < f.dropped_before:
                f.counts["dropped before"] += 1
                raise NetworkError("connection refused (bad day)")
            if roll < f.dropped_before + f.refused:
                f.counts["refused (500)"] += 1
                return 500, b'{"ok": false, "error_code": 500, "description": "Internal Error"}'
        status, body = await super().do_request(url, method, request_data, **kw)
        # A message sent, or one edited into the answer (a reply may replace the pressed one).
        if status == 200 and name in ("sendMessage", "editMessageText") and request_data:
            params = request_data.parameters
            chat = params.get("chat_id")
            if chat is not None:
                f.delivered.append((f.clock(), int(chat), str(params.get("text", ""))))
        if name not in QUIET_METHODS and f.rng.random() < f.lost_after:
            f.counts["answer lost"] += 1
            raise TimedOut("answer lost (bad day)")
        return status, body


class BadDayBot(Harness):
    faults: Faults

    async def start(self) -> None:
        self.app = build_application(
            self.settings,
            request=ChaoticRequest(self.api, self.faults),
            get_updates_request=FakeRequest(self.api),
            clock=self.clock,
        )
        await self.app.initialize()
        if self.app.post_init is not None:
            await self.app.post_init(self.app)
        await self.app.start()

    async def kill_during(self, update: dict[str, Any], rng: random.Random) -> None:
        """Process `update` but kill the process at a random point inside it."""
        assert self.app is not None
        task = asyncio.create_task(handle(self, update))
        # An update takes some milliseconds; the kill lands anywhere in them, before the
        # commit, between the commit and the reply, or after.
        await asyncio.sleep(rng.uniform(0, 0.03))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await self.crash()
        await self.start()


async def handle(bot: Harness, update: dict[str, Any]) -> None:
    """Through the update processor, as the running bot handles an update (per person, and on
    a shared database under the person's lock with their conversation read afresh)."""
    assert bot.app is not None
    incoming = Update.de_json(update, bot.app.bot)
    await bot.app.update_processor.process_update(incoming, bot.app.process_update(incoming))


@dataclass
class Person:
    user: FakeUser
    mode: str
    submitted: bool = False
    """Pressed Submit at least once."""
    finished: bool = False
    """Knows the report went in: saw its receipt, or found the flow ready for a new report."""
    actions: int = 0


def _labels(api: FakeBotApi, message: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t, str(d)) for row in api.buttons(message) for t, d in row if d]


def _next_update(api: FakeBotApi, person: Person) -> tuple[dict[str, Any], bool] | None:
    """The person's next move, from the last thing the bot said (if anything), and True when it
    presses Submit; None once they are done.

    After pressing Submit a person is done only when they know the report went in: they saw its
    receipt, or, shown nothing, they sent /report and were asked for a new report's first step
    (the old one was filed: its receipt comes from the outbox), which they cancel. Shown the
    confirmation again instead (the bot died before the report was stored), they press Submit
    again: that is carrying on where they were."""
    user = person.user
    sent = api.sent_messages(user.id)
    last = sent[-1] if sent else None
    text = str(last.get("text", "")) if last else ""
    buttons = dict(_labels(api, last)) if last else {}

    def press(label: str) -> dict[str, Any]:
        assert last is not None
        return api.callback_update(user, last, buttons[label])

    if person.finished:
        return None
    if person.submitted:
        if any(
            "received" in str(m.get("text", "")) and NUMBER.search(str(m.get("text", "")))
            for m in sent
        ):
            person.finished = True
            return None
        if "Step 1 of 6" in text:
            person.finished = True
            return api.message_update(user, "/cancel"), False
        if "Submit" in buttons:
            return press("Submit"), True
        return api.message_update(user, "/report"), False
    if "Submit" in buttons:
        return press("Submit"), True
    if "Step 1 of 6" in text and "Formalism" in buttons:
        return press("Formalism"), False
    if "Step 2 of 6" in text or "市公安局" in buttons:
        if "市公安局" in buttons:
            return press("市公安局"), False
        return api.message_update(user, "公安"), False
    if "Step 3 of 6" in text:
        return api.message_update(user, "窗口工作人员推诿，要求我反复提交同一份材料。"), False
    if "Step 4 of 6" in text and "Skip" in buttons:
        return press("Skip"), False
    if "Step 5 of 6" in text and "Done" in buttons:
        return press("Done"), False
    if "Step 6 of 6" in text and person.mode in buttons:
        return press(person.mode), False
    if "type your name" in text:
        return api.message_update(user, "张三"), False
    if "phone number" in text:
        return api.message_update(user, "13800138000"), False
    return api.message_update(user, "/report"), False


async def stored_authors(url: str) -> dict[str, int | None]:
    """Stored report numbers → the author's Telegram id (None: fully anonymous)."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        rows = (
            await session.exec(
                select(Report.number, Account.telegram_id).outerjoin(
                    Account, col(Account.id) == col(Report.reporter_account_id)
                )
            )
        ).all()
    await engine.dispose()
    return {number: telegram_id for number, telegram_id in rows}


def acknowledgements(
    authors: dict[str, int | None], delivered: Iterable[tuple[int, str]]
) -> Counter[str]:
    """How many stored reports reached their author's chat once, more than once, or never, in
    a message saying it was received (a fully anonymous author: any chat)."""
    by_chat: dict[int, Counter[str]] = {}
    for chat_id, text in delivered:
        if "received" in text:
            for number in NUMBER.findall(text):
                by_chat.setdefault(chat_id, Counter())[number] += 1
    acks: Counter[str] = Counter()
    for number, author in authors.items():
        if author is not None:
            seen = by_chat.get(author, Counter())[number]
        else:
            seen = sum(c[number] for c in by_chat.values())
        acks["once" if seen == 1 else ("never" if seen == 0 else "more than once")] += 1
    return acks


@contextlib.contextmanager
def database(postgres: bool) -> Any:
    """A fresh PostgreSQL database for the run (what `make_settings` then uses), or nothing:
    the run's SQLite file lives in its temporary folder."""
    if not postgres:
        yield
        return
    url = databases.create_database()
    databases.current_url = url
    try:
        yield
    finally:
        databases.current_url = None
        databases.drop_database(url)
        databases.drop_template()


async def reports_run(
    people: int, seed: int, *, kill_every: int, faulty: bool, processes: int = 1
) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        # Under faults, Telegram's limits as the bot meets them: the bot's default budget, and
        # the double refusing what goes beyond them.
        limits = {"rate_limit": RateLimitSettings()} if faulty else {}
        settings = make_settings(Path(folder), admin_ids=[ADMIN.id], **limits)
        await prepare_database(settings.database.url)
        api = FakeBotApi()
        if faulty:
            api.rate_limit(30)
            api.chat_limits(1.0, 3, 20)
        liaisons = [FakeUser(600_000 + i, f"L{i}", language_code="en") for i in range(LIAISONS)]
        if faulty:
            await add_liaisons(settings.database.url, liaisons)
            for user in liaisons:
                api.add_user(user)  # they started the bot once, when they joined
        bots = [BadDayBot(api=api, settings=settings) for _ in range(processes)]
        faults = Faults(
            rng=random.Random(seed + 1),
            clock=bots[0].clock,
            refused=0.05 if faulty else 0.0,
            dropped_before=0.02 if faulty else 0.0,
            lost_after=0.02 if faulty else 0.0,
        )
        for each in bots:
            each.clock, each.faults = bots[0].clock, faults
            await each.start()
        bot = bots[0]
        modes = ["Real name", "Anonymous", "Fully anonymous"]
        crowd = [
            Person(FakeUser(500_000 + i, f"P{i}", language_code="en"), modes[i % 3])
            for i in range(people)
        ]
        kills = 0
        waiting = list(crowd)
        leaders_killed = 0
        while waiting:
            person = rng.choice(waiting)
            move = _next_update(bot.api, person)
            if move is None:
                waiting.remove(person)
                continue
            update, submits = move
            person.actions += 1
            bot = rng.choice(bots)  # either process may get a person's next update
            if kill_every and rng.randrange(kill_every) == 0:
                kills += 1
                assert bot.app is not None
                leaders_killed += bot.app.bot_data["services"].leading
                await bot.kill_during(update, rng)
            else:
                await handle(bot, update)
            person.submitted |= submits
            if person.actions > 80:
                waiting.remove(person)
        for person in crowd:  # the next thing each of them does, some time later
            bot = rng.choice(bots)
            bot.clock.advance(minutes=1)
            await handle(bot, bot.api.message_update(person.user, "/start"))
        admin_steps = await broadcast(bots, rng) if faulty else 0
        for _ in range(8):  # a few hours for the outbox's retries
            bot.clock.advance(hours=1)
            for each in bots:
                assert each.app is not None
                services = each.app.bot_data["services"]
                # The lease's job, as its timer would run it: the leader takes over what the
                # killed processes left half sent, once their heartbeats have run out.
                await keep_lease(services)
                await services.sender.drain_once()
        authors = await stored_authors(settings.database.url)
        acks = acknowledgements(authors, ((chat, text) for _at, chat, text in faults.delivered))
        outbox = await outbox_in_doubt(settings.database.url)
        copies = Counter(
            chat for _at, chat, text in faults.delivered if NOTICE in text and chat != ADMIN.id
        )
        for each in bots:
            await each.stop()
    broadcast_figures = {
        "liaisons": len(liaisons),
        "admin's steps": admin_steps,
        "broadcast once": sum(copies[u.id] == 1 for u in liaisons),
        "broadcast twice or more": sum(copies[u.id] > 1 for u in liaisons),
        "broadcast never": sum(copies[u.id] == 0 for u in liaisons),
    }
    return {
        "processes": processes,
        "leaders killed": leaders_killed,
        "people": people,
        "pressed Submit": sum(p.submitted for p in crowd),
        "finished (knew their report went in)": sum(p.finished for p in crowd),
        "stored reports": len(authors),
        "acknowledged once": acks["once"],
        "acknowledged more than once": acks["more than once"],
        "never acknowledged": acks["never"],
        "kills": kills,
        **(broadcast_figures if faulty else {}),
        "faults": dict(faults.counts),
        "429 answers": api.stats.rate_limited,
        "of them for one chat's own limit": sum(api.stats.rate_limited_chats.values()),
        "outbox in doubt": outbox,
    }


async def add_liaisons(url: str, users: list[FakeUser]) -> None:
    """Liaisons of the first units, one each, as their invite links would have made them."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        units = (await session.exec(select(Department).order_by(col(Department.id)))).all()
        for user, unit in zip(users, units, strict=False):
            account = Account(telegram_id=user.id, language="en")
            session.add(account)
            await session.flush()
            assert account.id is not None and unit.id is not None
            await grant_role(session, account.id, Role.liaison, unit.id, datetime.now(TZ))
        await session.commit()
    await engine.dispose()


async def broadcast(bots: list[BadDayBot], rng: random.Random) -> int:
    """The admin sends NOTICE to every liaison through the bot: /broadcast all, the text, Send;
    where an answer did not come (a fault), again from the start, as a person would. Returns
    the admin's steps."""
    steps = 0
    url = bots[0].settings.database.url
    while steps < 40 and not await broadcasts_stored(url):
        bot = rng.choice(bots)
        api = bot.api
        sent = api.sent_messages(ADMIN.id)
        last = sent[-1] if sent else None
        buttons = dict(_labels(api, last)) if last else {}
        if "Send" in buttons and last is not None and NOTICE in str(last.get("text", "")):
            update = api.callback_update(ADMIN, last, buttons["Send"])
        elif last is not None and "Type the notice" in str(last.get("text", "")):
            update = api.message_update(ADMIN, NOTICE)
        else:
            update = api.message_update(ADMIN, "/broadcast all")
        await handle(bot, update)
        steps += 1
    return steps


async def broadcasts_stored(url: str) -> int:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        found = len((await session.exec(select(Broadcast))).all())
    await engine.dispose()
    return found


async def outbox_in_doubt(url: str) -> int:
    """Sends that may have reached their recipient twice (a crash's, or a lost answer's)."""
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        found = await counts(session)
    await engine.dispose()
    return found.in_doubt


async def deadlines_run(seed: int, reports: int = 30) -> dict[str, Any]:
    from db.calendar.workdays import load_calendar
    from db.cases.handling import apply_command, open_case
    from db.cases.rules import Accept, Actor, Limits, Sign
    from tests.factories import file_report

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        settings = make_settings(Path(folder), admin_ids=[ADMIN.id], rate_limit=RateLimitSettings())
        await prepare_database(settings.database.url)
        bot = BadDayBot(api=FakeBotApi(), settings=settings)
        bot.api.rate_limit(30)
        bot.api.chat_limits(1.0, 3, 20)
        bot.faults = Faults(
            rng=random.Random(seed + 2),
            clock=bot.clock,
            refused=0.05,
            dropped_before=0.02,
            lost_after=0.02,
        )
        liaisons = [FakeUser(800 + i, f"L{i}", language_code="en") for i in range(3)]
        for user in [*liaisons, ADMIN]:
            bot.api.add_user(user)
        engine = create_engine(settings.database.url)
        async with session_factory(engine)() as session:
            unit = (
                await session.exec(select(Department).where(col(Department.code) == "D011"))
            ).one()
            reporter = Account(telegram_id=7000, language="en")
            session.add(reporter)
            for user in liaisons:
                account = Account(telegram_id=user.id, language="en")
                session.add(account)
                await session.flush()
                assert account.id is not None and unit.id is not None
                await grant_role(session, account.id, Role.liaison, unit.id, bot.clock.now)
            await session.flush()
            calendar = await load_calendar(session)
            first = (
                await session.exec(select(Account).where(col(Account.telegram_id) == 800))
            ).one()
            signer = Actor(first.id, liaison_of=frozenset({unit.id or 0}))
            limits = Limits(reply_days=3)  # short, so the answer's reminders fall in the run
            for _ in range(reports):
                at = bot.clock.now + timedelta(hours=rng.randint(0, 72))
                assert reporter.id is not None and unit.id is not None
                report = await file_report(session, reporter.id, at)
                await open_case(session, report, at, calendar, Limits(), TZ, auto_assign=False)
                assert report.id is not None
                await apply_command(
                    session,
                    report.id,
                    Accept(unit.id),
                    Actor(None, is_admin=True),
                    at,
                    calendar,
                    limits,
                    TZ,
                )
                if rng.random() < 0.5:  # signed at once: the answer's ladder runs instead
                    await apply_command(
                        session,
                        report.id,
                        Sign(),
                        signer,
                        at + timedelta(minutes=5),
                        calendar,
                        limits,
                        TZ,
                    )
            await session.commit()
        await engine.dispose()
        await bot.start()
        # Hour of the run → hours the bot is down; each restart is at 19:30 local time, after
        # the day's send window, so what it queues waits for the next morning.
        downtimes = {33: 24, 81: 48, 177: 96}
        hour, end = 0, 14 * 24
        while hour < end:
            if hour in downtimes:
                await bot.crash()
                bot.clock.advance(hours=downtimes[hour])
                hour += downtimes[hour]
                await bot.start()
            assert bot.app is not None
            await run_deadline_scan(bot.context)
            await bot.app.bot_data["services"].sender.drain_once()
            bot.clock.advance(hours=1)
            hour += 1
        await bot.stop()
        in_doubt = await outbox_in_doubt(settings.database.url)
    last: dict[tuple[int, str], datetime] = {}
    twice = late = reminders = 0
    for at, chat_id, text in bot.faults.delivered:
        if chat_id not in {u.id for u in liaisons} or not text.startswith("⏰"):
            continue
        reminders += 1
        # The day-before and the due-day reminder read alike; the same words again within an
        # hour are a second copy.
        before = last.get((chat_id, text))
        if before is not None and at - before < timedelta(hours=1):
            twice += 1
        last[(chat_id, text)] = at
        due = DUE.search(text)
        if due and at > datetime.strptime(due.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=TZ):
            late += 1
    return {
        "reminders delivered": reminders,
        "the same reminder twice": twice,
        "reminders after their deadline": late,
        "faults": dict(bot.faults.counts),
        "429 answers": bot.api.stats.rate_limited,
        "of them for one chat's own limit": sum(bot.api.stats.rate_limited_chats.values()),
        "outbox in doubt": in_doubt,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kill-every", type=int, default=60)
    parser.add_argument("--only-reports", action="store_true")
    parser.add_argument("--only-deadlines", action="store_true")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, two processes")
    args = parser.parse_args()
    started = time.monotonic()
    processes = 2 if args.postgres else 1
    if not args.only_deadlines:
        with database(args.postgres):
            kills = await reports_run(
                args.people,
                args.seed,
                kill_every=args.kill_every,
                faulty=False,
                processes=processes,
            )
        print("kills:", kills, flush=True)
        with database(args.postgres):
            faults = await reports_run(
                args.people, args.seed, kill_every=0, faulty=True, processes=processes
            )
        print("faults:", faults, flush=True)
    if not args.only_reports:
        with database(args.postgres):
            print("deadlines:", await deadlines_run(args.seed), flush=True)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
