"""The one send budget: Telegram's limits as arithmetic on a controllable clock, and the order in
which waiting calls go."""

from __future__ import annotations

import asyncio

import pytest
from telegram.error import NetworkError

from bot.runtime.send_budget import Priority, SendBudget, SendLimiter, priority_for, serving

REPLY, BULK = Priority.reply, Priority.bulk


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_message_counts_from_its_booking_until_a_second_after_its_answer(clock: Clock) -> None:
    """Telegram counts a request when it arrives, anywhere between booking and answer: however
    slow the answer, no second of Telegram's holds more than the rate."""
    budget = SendBudget(overall_per_second=5, bulk_reserve=0, chat_interval=0, clock=clock)
    budget.take(None, REPLY, count=4)  # an album: four messages
    budget.take(None, REPLY)
    assert budget.overall_wait(REPLY) > 0, "five in flight: the sixth waits"
    clock.now += 3.0  # a stalled connection: still in flight, still counted
    assert budget.overall_wait(REPLY) > 0
    budget.answered(None, count=4)
    assert budget.overall_wait(REPLY) == pytest.approx(1.0), "the album ages from its answer"
    clock.now += 0.4
    budget.answered(None)
    clock.now += 0.6
    assert budget.overall_wait(REPLY) == 0
    budget.take(None, REPLY, count=4)
    assert budget.overall_wait(REPLY) == pytest.approx(0.4), "the last answer is 0.6 s old"


def test_bulk_goes_evenly_and_leaves_the_reserve_to_replies(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=10, bulk_reserve=2, chat_interval=0, clock=clock)
    # After a quiet spell the next slot is now, and the one after it too; then one per 1/rate.
    budget.take(None, BULK)
    assert budget.overall_wait(BULK) == 0
    budget.take(None, BULK)
    assert budget.overall_wait(BULK) == pytest.approx(0.1), "one bulk message per 1/rate"
    assert budget.overall_wait(REPLY) == 0, "a reply may follow at once"
    # Late by a few ms: the pace does not drift by the lateness.
    clock.now += 0.103
    budget.take(None, BULK)
    assert budget.overall_wait(BULK) == pytest.approx(0.097)
    for _ in range(5):
        clock.now += 0.1
        budget.take(None, BULK)
    clock.now += 0.1
    # Eight in the window: bulk stops at 10 - 2, replies take the last two at once.
    assert budget.overall_wait(BULK) > 0
    budget.take(None, REPLY)
    budget.take(None, REPLY)
    assert budget.overall_wait(REPLY) > 0


def test_a_private_chat_has_a_burst_then_one_a_second(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=0, chat_interval=1.0, chat_burst=3, clock=clock)
    for _ in range(3):
        assert budget.chat_wait(7, REPLY) == 0
        budget.take(7, REPLY)
    assert budget.chat_wait(7, REPLY) == pytest.approx(1.0)
    assert budget.chat_wait(8, REPLY) == 0, "another chat is not held up"
    clock.now += 0.5
    assert budget.chat_wait(7, REPLY) == pytest.approx(0.5)
    clock.now += 10
    assert budget.chat_wait(7, REPLY) == 0


def test_a_chat_refills_from_the_answer_not_from_the_booking(clock: Clock) -> None:
    """The request may have reached Telegram just before its answer: counting the refill from
    the booking would send the next one early by the request's time in flight."""
    budget = SendBudget(overall_per_second=0, chat_interval=1.0, chat_burst=1, clock=clock)
    budget.take(7, REPLY)
    clock.now += 0.3
    budget.answered(7)
    assert budget.chat_wait(7, REPLY) == pytest.approx(1.0)


def test_bulk_leaves_the_last_message_of_a_chat_to_a_reply(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=0, chat_interval=1.0, chat_burst=3, clock=clock)
    budget.take(7, BULK)
    budget.take(7, BULK)
    assert budget.chat_wait(7, BULK) == pytest.approx(1.0)
    assert budget.chat_wait(7, REPLY) == 0, "the person is still answered at once"


def test_a_group_takes_twenty_a_minute(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=0, group_per_minute=20, clock=clock)
    for _ in range(20):
        assert budget.chat_wait(-100, BULK) == 0
        budget.take(-100, BULK)
        clock.now += 1
    assert budget.chat_wait(-100, BULK) == pytest.approx(40.0)
    assert budget.chat_wait(-200, BULK) == 0


def test_a_wecom_robot_takes_twenty_a_minute_outside_telegrams_budget(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=10, robot_per_minute=20, clock=clock)
    for _ in range(20):
        budget.take_robot("wecom:3")
    assert budget.chat_wait("wecom:3", BULK) == pytest.approx(60.0)
    assert budget.overall_wait(BULK) == 0, "robots do not use Telegram's slots"


def test_a_refusal_pauses_only_its_chat(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=10, chat_interval=1.0, clock=clock)
    budget.refused(7, 5.0)
    assert budget.chat_wait(7, REPLY) == pytest.approx(5.0)
    assert budget.chat_wait(8, REPLY) == 0
    assert budget.overall_wait(REPLY) == 0
    assert (budget.stats.refused, budget.stats.chat_pauses, budget.stats.global_pauses) == (1, 1, 0)


def test_refusals_of_two_chats_at_once_pause_everything(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=10, chat_interval=1.0, clock=clock)
    budget.refused(7, 3.0)
    clock.now += 0.5
    budget.refused(8, 3.0)
    assert budget.overall_wait(BULK) == pytest.approx(3.0)
    assert budget.wait(9, REPLY) == pytest.approx(3.0)
    assert budget.stats.global_pauses == 1
    # Two refusals far apart are two chats' own business.
    clock.now += 10
    budget.refused(9, 3.0)
    clock.now += 2
    budget.refused(10, 3.0)
    assert budget.overall_wait(BULK) == 0
    assert budget.stats.global_pauses == 1


def test_bulk_gives_way_while_a_reply_waits_for_a_slot(clock: Clock) -> None:
    budget = SendBudget(overall_per_second=10, chat_interval=0, clock=clock)
    budget.replies_waiting = 1
    assert budget.overall_wait(BULK) > 0
    assert budget.overall_wait(REPLY) == 0


def test_a_call_is_a_reply_only_to_the_chat_being_served() -> None:
    async def inside(chat: int) -> tuple[Priority, Priority, Priority]:
        serving(chat)
        return priority_for(chat), priority_for(chat + 1), priority_for(None)

    assert asyncio.run(inside(5)) == (REPLY, BULK, BULK)
    assert priority_for(5) is BULK, "the mark ends with the task that handled the update"


async def test_a_waiting_reply_goes_before_the_bulk_queued_ahead_of_it() -> None:
    """Eight bulk sends queue first; a reply that arrives after them leaves next."""
    limiter = SendLimiter(SendBudget(overall_per_second=50, chat_interval=0))
    order: list[str] = []

    async def send(name: str, chat: int, priority: Priority) -> None:
        await limiter.acquire(chat, priority)
        order.append(name)

    for _ in range(2):  # the slots of now taken: everybody below must wait
        await limiter.acquire(1, BULK)
    bulk = [asyncio.create_task(send(f"bulk{i}", 10 + i, BULK)) for i in range(8)]
    await asyncio.sleep(0)
    reply = asyncio.create_task(send("reply", 99, REPLY))
    await asyncio.gather(reply, *bulk)
    assert order.index("reply") == 0, order
    assert sorted(order[1:]) == [f"bulk{i}" for i in range(8)]


async def test_a_call_that_fails_still_ages_out_of_the_window(clock: Clock) -> None:
    """A refused or broken call may still have reached Telegram: it counts, then ages."""
    budget = SendBudget(overall_per_second=1, bulk_reserve=0, chat_interval=0, clock=clock)
    limiter = SendLimiter(budget)

    async def broken() -> bool:
        raise NetworkError("connection reset")

    with pytest.raises(NetworkError):
        await limiter.process_request(broken, (), {}, "sendMessage", {"chat_id": 5}, None)
    assert budget.overall_wait(REPLY) == pytest.approx(1.0)


def test_what_one_process_spent_of_a_chat_counts_in_another(clock: Clock) -> None:
    """Two processes, two budgets: the pace one hands over (through the database) is merged,
    the lower bucket and the later pause winning; a fuller bucket changes nothing."""
    first = SendBudget(overall_per_second=0, chat_interval=1.0, chat_burst=3, clock=clock)
    second = SendBudget(overall_per_second=0, chat_interval=1.0, chat_burst=3, clock=Clock())
    for _ in range(3):
        first.take(42, Priority.reply)
    second.merge_chat_pace(42, first.chat_pace(42))
    assert second.chat_wait(42, Priority.reply) == pytest.approx(1.0, abs=0.05)

    first.refused(42, 5)
    second.merge_chat_pace(42, first.chat_pace(42))
    assert second.chat_wait(42, Priority.reply) == pytest.approx(5.0, abs=0.05)

    untouched = SendBudget(overall_per_second=0, chat_interval=1.0, chat_burst=3, clock=clock)
    untouched.take(7, Priority.reply)
    untouched.merge_chat_pace(7, SendBudget(chat_interval=1.0, clock=clock).chat_pace(7))
    assert untouched.chat_pace(7).tokens == pytest.approx(2.0, abs=0.05)
