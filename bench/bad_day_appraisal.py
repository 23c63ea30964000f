"""Issue 14 on a bad day: an appraisal round and post-service ratings while Telegram fails, the
bot is killed mid-ballot, one account floods, and the bot is down over the round's close.

    .venv/bin/python bench/bad_day_appraisal.py [--evaluators 20] [--citizens 30] [--seed 1]

One process, the real application against the Bot API double, a controllable clock, and the
faults of bench/bad_day.py: 5% of Bot API calls answered 500, 2% of connections dropped before
the call and 2% after Telegram carried it out (the answer lost), and Telegram's limits on in the
double and in the bot.

1. The admin invites `--evaluators` evaluators (each opens their link; a lost answer makes the
   admin invite again) and opens a round of five units closing on Friday 20 March 2026.
2. The evaluators rate, interleaved, as a person does: they press what the last message offers
   (a mark, 跳过, the next unit, 开始评分), and send /rate_round when nothing answered. Every
   ~15 updates the bot is killed at a random point inside the update and started again. Three
   evaluators stop after two units.
3. `--citizens` people scan window W002's poster and tap a rating (a third 不满意 with a
   reason); one account sends the poster link 200 times in ten seconds while another person rates.
4. On Wednesday the rounds' job queues its reminders; the bot then goes down from Thursday
   evening to Tuesday (the close passes while it is down), comes back, runs its jobs and drains
   the outbox.

Counted from what the double delivered: invitations per evaluator, ballots stored that the
evaluator was never shown as saved, ratings stored that the person was never thanked for, what
the flooding account got, the result message and the anomaly report per admin, reminders after
the close, and the outbox rows in doubt.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bad_day import BadDayBot, Faults, handle, outbox_in_doubt  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.fakeapi import FakeBotApi, FakeUser  # noqa: E402
from bot.runtime.i18n import gettext_for  # noqa: E402
from bot.runtime.settings import FloodSettings, RateLimitSettings  # noqa: E402
from db.engine import create_engine, session_factory  # noqa: E402
from db.models import Ballot, Department, RatingLink, RoundResult, ServiceRating  # noqa: E402
from db.people.departments import department_by_code  # noqa: E402
from db.ratings.links import poster_token  # noqa: E402
from scheduler.anomalies.report import run_anomaly_job  # noqa: E402
from scheduler.appraisal.rounds import run_rounds_job  # noqa: E402
from tests.harness import make_settings, prepare_database  # noqa: E402

ZH = gettext_for("zh_CN")
ADMIN = FakeUser(9, "作风办", language_code="zh-hans")
UNITS = ("D001", "D010", "D011", "D002", "W002")
FORM = (
    "/round\n标题：2026年第1季度百家企业评政风\n期间：2026年第1季度\n评议组：QY\n"
    "单位：D001 D010 D011 D002 W002\n截止：2026-03-20"
)
START = datetime(2026, 3, 16, 2, tzinfo=UTC)  # Monday 10:00 in Shanghai
REMIND = datetime(2026, 3, 18, 1, 30, tzinfo=UTC)  # Wednesday 09:30
DOWN = datetime(2026, 3, 19, 11, tzinfo=UTC)  # Thursday 19:00
BACK = datetime(2026, 3, 24, 1, tzinfo=UTC)  # Tuesday 09:00, after the close
VALUES = ("满意", "基本满意", "不满意")


def labels(api: FakeBotApi, chat: int) -> list[tuple[str, str | None]]:
    sent = api.sent_messages(chat)
    return [b for row in api.buttons(sent[-1]) for b in row] if sent else []


def press(api: FakeBotApi, user: FakeUser, label: str) -> dict[str, Any] | None:
    if not api.sent_messages(user.id):
        return None  # the bot's answer never came: the person tries again
    message = api.last_message(user.id)
    for text, data in labels(api, user.id):
        if text == label and data is not None:
            return api.callback_update(user, message, data)
    return None


class Evaluator:
    def __init__(self, user: FakeUser, units: int) -> None:
        self.user, self.units, self.done, self.actions = user, units, False, 0

    def next_update(self, api: FakeBotApi, rng: random.Random, rated: int) -> dict[str, Any]:
        self.actions += 1
        found = [text for text, data in labels(api, self.user.id) if data]
        if rated >= self.units:
            self.done = True
            return {}
        digits = [t for t in found if t.isdigit()]
        if digits:
            return press(api, self.user, rng.choice(digits)) or {}
        if ZH("Skip") in found:
            return press(api, self.user, ZH("Skip")) or {}
        nexts = [t for t in found if t.startswith(ZH("Rate next: {unit}").split("{")[0])]
        todo = [t for t in found if t.startswith("· ")]
        for choice in (*nexts, *todo, ZH("Start rating")):
            if choice in found:
                return press(api, self.user, choice) or {}
        return api.message_update(self.user, "/rate_round")


async def rows(url: str, model: Any) -> list[Any]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        found = list((await session.exec(select(model))).all())
    await engine.dispose()
    return found


async def step(bot: BadDayBot, update: dict[str, Any], rng: random.Random, kills: Counter[str]):
    if not update:
        return
    if rng.random() < 1 / 15:
        kills["kills"] += 1
        await bot.kill_during(update, rng)
    else:
        await handle(bot, update)


async def run(evaluator_count: int, citizen_count: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        settings = make_settings(
            Path(folder),
            admin_ids=[ADMIN.id],
            rate_limit=RateLimitSettings(),
            flood=FloodSettings(),
        )
        await prepare_database(settings.database.url)
        api = FakeBotApi()
        api.rate_limit(30)
        api.chat_limits(1.0, 3, 20)
        bot = BadDayBot(api=api, settings=settings)
        bot.clock.now = START
        bot.faults = Faults(
            rng=random.Random(seed + 1),
            clock=bot.clock,
            refused=0.05,
            dropped_before=0.02,
            lost_after=0.02,
        )
        await bot.start()
        kills: Counter[str] = Counter()
        url = settings.database.url
        loop = asyncio.get_running_loop()

        async def drain() -> None:
            assert bot.app is not None
            await bot.app.bot_data["services"].sender.drain_once()

        await handle(bot, api.message_update(ADMIN, "/start"))
        evaluators = [
            FakeUser(700_000 + i, f"评议代表{i}", language_code="zh-hans")
            for i in range(evaluator_count)
        ]
        for user in evaluators:
            for _attempt in range(10):
                await handle(bot, api.message_update(ADMIN, "/invite evaluator QY"))
                text = str(api.last_message(ADMIN.id).get("text", ""))
                if "?start=" not in text:
                    continue
                token = text.split("?start=")[1].split()[0]
                await handle(bot, api.message_update(user, f"/start {token}"))
                if "评议代表" in str(api.last_message(user.id).get("text", "")):
                    break
        opened = 0
        while (
            opened < 10
            and not await rows(url, RoundResult)
            and not any(
                "第 1 号评议已发起" in str(m.get("text")) for m in api.sent_messages(ADMIN.id)
            )
        ):
            opened += 1
            await handle(bot, api.message_update(ADMIN, FORM))
        for _ in range(5):
            bot.clock.advance(minutes=1)
            await drain()

        people = [Evaluator(u, 2 if i < 3 else len(UNITS)) for i, u in enumerate(evaluators)]
        while any(not p.done and p.actions < 120 for p in people):
            for person in people:
                if person.done or person.actions >= 120:
                    continue
                ballots = [b for b in await rows(url, Ballot) if b.account_id]
                mine = await _account_ballots(url, person.user.id, ballots)
                await step(bot, person.next_update(api, rng, mine), rng, kills)
            bot.clock.advance(seconds=20)
            await drain()

        # Citizens at window W002, and one account flooding the poster link.
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            w002 = await department_by_code(session, "W002")
            assert w002 is not None and w002.id is not None
            token = await poster_token(session, w002.id, bot.clock())
            await session.commit()
        await engine.dispose()
        citizens = [
            FakeUser(800_000 + i, f"群众{i}", language_code="zh-hans") for i in range(citizen_count)
        ]
        for citizen in citizens:
            for _attempt in range(4):
                await step(bot, api.message_update(citizen, f"/start rate-{token}"), rng, kills)
                value = VALUES[citizen.id % 3]
                update = press(api, citizen, value)
                if update is None:
                    continue
                await step(bot, update, rng, kills)
                if value == "不满意":
                    reason = press(api, citizen, "态度不好")
                    if reason:
                        await step(bot, reason, rng, kills)
                if any("已记录" in str(m.get("text")) for m in api.sent_messages(citizen.id)):
                    break
        # One account sends the poster link 200 times in ten seconds (real time, all at once as
        # Telegram would deliver them), while another person rates the same window.
        flooder = FakeUser(899_999, "刷评价的人", language_code="zh-hans")
        bystander = FakeUser(899_998, "路过的群众", language_code="zh-hans")
        before_flood = len(api.calls)
        flood: list[asyncio.Task[None]] = []
        for n in range(200):
            flood.append(
                asyncio.create_task(
                    handle(bot, api.message_update(flooder, f"/start rate-{token}"))
                )
            )
            if n == 100:
                began = loop.time()
                await handle(bot, api.message_update(bystander, f"/start rate-{token}"))
                tapped = press(api, bystander, "满意")
                if tapped:
                    await handle(bot, tapped)
                bystander_s = loop.time() - began
            await asyncio.sleep(0.05)
        await asyncio.gather(*flood)
        flood_calls = len(api.calls) - before_flood
        flooder_got = len(api.sent_messages(flooder.id))
        bystander_thanked = any(
            "评价已记录" in str(m.get("text")) for m in api.sent_messages(bystander.id)
        )

        # Wednesday: reminders queued; Thursday evening the bot goes down until Tuesday.
        bot.clock.now = REMIND
        assert bot.app is not None
        await run_rounds_job(bot.context)
        for _ in range(10):
            bot.clock.advance(minutes=2)
            await drain()
        bot.clock.now = DOWN
        await bot.crash()
        bot.clock.now = BACK
        await bot.start()
        for _ in range(3):
            await run_rounds_job(bot.context)
            await run_anomaly_job(bot.context)
            for _ in range(10):
                bot.clock.advance(minutes=3)
                await drain()
        await handle(bot, api.message_update(ADMIN, "/round status 1"))

        delivered = bot.faults.delivered
        names = {d.id: d.name for d in await rows(url, Department)}
        ballots = [b for b in await rows(url, Ballot) if b.scores is not None]
        accounts = await _accounts(url)
        untold = 0
        for ballot in ballots:
            chat = accounts[ballot.account_id]
            name = names[ballot.department_id]
            shown = any(
                c == chat and name in t and ("已保存" in t or f"✓ <b>{name}</b>" in t)
                for _at, c, t in delivered
            )
            untold += not shown
        invitations = Counter(c for _at, c, t in delivered if "作风办邀请您" in t)
        ratings = await rows(url, ServiceRating)
        rating_accounts = Counter(r.account_id for r in ratings)
        thanked = {c for _at, c, t in delivered if "评价已记录" in t}
        results = Counter(c for _at, c, t in delivered if "评议已结束" in t and c == ADMIN.id)
        anomaly = Counter(c for _at, c, t in delivered if "异常情况报告" in t and c == ADMIN.id)
        late_reminders = sum(
            1 for at, _c, t in delivered if "截止" in t and "提醒" in t and at > BACK
        )
        figures = {
            "evaluators": evaluator_count,
            "invited once": sum(invitations[u.id] == 1 for u in evaluators),
            "invited twice or more": sum(invitations[u.id] > 1 for u in evaluators),
            "never invited": sum(invitations[u.id] == 0 for u in evaluators),
            "evaluators finished (all units shown saved)": sum(
                p.done for p in people if p.units == len(UNITS)
            ),
            "ballots stored": len(ballots),
            "ballots stored, never shown as saved": untold,
            "citizens": citizen_count,
            "ratings stored (citizens)": sum(
                1 for r in ratings if accounts.get(r.account_id) in {c.id for c in citizens}
            ),
            "citizens thanked": sum(c.id in thanked for c in citizens),
            "ratings stored, person never thanked": sum(
                accounts[a] not in thanked for a in rating_accounts
            ),
            "flooder: updates sent": 200,
            "flooder: messages received": flooder_got,
            "Bot API calls during the flood": flood_calls,
            "bystander during the flood: seconds to rate": round(bystander_s, 2),
            "bystander thanked": bystander_thanked,
            "result message to the admin": results[ADMIN.id],
            "anomaly report to the admin": anomaly[ADMIN.id],
            "frozen results": len(await rows(url, RoundResult)),
            "reminders delivered after the close": late_reminders,
            "kills": kills["kills"],
            "faults": dict(bot.faults.counts),
            "429 answers": api.stats.rate_limited,
            "outbox in doubt": await outbox_in_doubt(url),
            "poster links": len(await rows(url, RatingLink)),
        }
        await bot.stop()
    return figures


async def _accounts(url: str) -> dict[int, int]:
    from db.models import Account

    return {a.id: a.telegram_id for a in await rows(url, Account) if a.id is not None}


async def _account_ballots(url: str, telegram_id: int, ballots: list[Ballot]) -> int:
    accounts = {v: k for k, v in (await _accounts(url)).items()}
    account = accounts.get(telegram_id)
    return sum(1 for b in ballots if b.account_id == account)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evaluators", type=int, default=20)
    parser.add_argument("--citizens", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = asyncio.run(run(args.evaluators, args.citizens, args.seed))
    for name, value in figures.items():
        print(f"{name:48s} {value}")


if __name__ == "__main__":
    main()
