"""Two bot processes on one PostgreSQL database: a person's report flow continues wherever their
next update lands, and two updates of one person are handled one after the other."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.fakeapi import FakeUser
from bot.runtime.settings import RateLimitSettings
from tests.harness import labels, two_processes

PERSON = FakeUser(id=777, first_name="王", language_code="zh-hans")


async def test_a_flow_continues_in_whichever_process_gets_the_next_update(
    tmp_path: Path, postgres_url: str
) -> None:
    first, second = await two_processes(tmp_path)
    try:
        asked = await first.say(PERSON, "/report")
        assert "推诿扯皮" in labels(first.api, asked[-1])
        await second.press(PERSON, "推诿扯皮")
        found = await first.say(PERSON, "公安")
        assert "市公安局" in labels(first.api, found[-1]), "the first process knew the step"
        await second.press(PERSON, "市公安局")
        # And back: the unit search of the second process is what the first now continues.
        described = await first.say(PERSON, "窗口工作人员推诿，要求反复提交同一份材料。")
        assert described, "the description step answered"
        assert "简要描述" not in (described[-1].get("text") or ""), "not asked again"
    finally:
        await first.stop()
        await second.stop()
    assert first.api.violations == []


async def test_one_persons_updates_in_two_processes_take_turns(
    tmp_path: Path, postgres_url: str
) -> None:
    first, second = await two_processes(tmp_path)
    assert first.app is not None and second.app is not None
    shared_first = first.app.update_processor.shared  # type: ignore[attr-defined]
    shared_second = second.app.update_processor.shared  # type: ignore[attr-defined]
    order: list[str] = []

    async def hold(shared: object, name: str) -> None:
        async with shared.person(PERSON.id, PERSON.id):  # type: ignore[attr-defined]
            order.append(f"{name} in")
            await asyncio.sleep(0.2)
            order.append(f"{name} out")

    try:
        await asyncio.gather(hold(shared_first, "a"), hold(shared_second, "b"))
    finally:
        await first.stop()
        await second.stop()
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_a_persons_chat_keeps_one_pace_across_the_processes(
    tmp_path: Path, postgres_url: str
) -> None:
    """Telegram takes a burst of 3 and then 1 a second in one chat, whichever process sends:
    a person whose updates alternate between two processes is never refused."""
    pace = RateLimitSettings(overall_per_second=0, chat_interval_seconds=1.0, chat_burst=3)
    first, second = await two_processes(tmp_path, rate_limit=pace)
    first.api.chat_limits(1.0, 3, 20)
    try:
        for i in range(6):
            await (first if i % 2 == 0 else second).say(PERSON, "/start")
    finally:
        await first.stop()
        await second.stop()
    assert first.api.stats.rate_limited == 0, "no 429 for the person's chat"
    answers = [m for m in first.api.sent_messages(PERSON.id) if "正风" in (m.get("text") or "")]
    assert len(answers) == 6, "every /start answered"
