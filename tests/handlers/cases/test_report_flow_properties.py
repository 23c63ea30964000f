"""Random sequences of texts, edits, presses and stickers never put an answer in the wrong field.

Each text is marked with the step the report flow is waiting at when it is sent (D… for what
happened, T… for when and where, N… for the name, X… for text sent at any other step), and an
edit is E…. Whatever the order, a stored draft and a filed report hold only a field's own mark
in that field: an edit, or text typed at another step, never becomes an answer.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from bot.fakeapi import FakeUser
from db.cases.drafts import Draft, load_draft
from db.conversations import load_states
from db.engine import create_engine, session_factory
from db.models import Account, Report
from handlers.cases.report import CONVERSATION, State
from tests.harness import Harness

Action = tuple[str, int]
ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(["text", "text", "edit", "press", "press", "press", "sticker"]),
        st.integers(0, 9),
    ),
    min_size=5,
    max_size=40,
)
USER_IDS = itertools.count(700_000)
MARKS = {State.DESCRIPTION: "D", State.TIME_PLACE: "T", State.REAL_NAME: "N"}


def _answer(state: object, n: int) -> str:
    if state == State.DEPARTMENT:
        return "公安"
    if state == State.PHONE:
        return "13800138000"
    mark = MARKS.get(State(state)) if isinstance(state, int) else None
    return f"{mark or 'X'}{n} a clerk sent me away three times"


class Flow:
    """One person's random walk through the report flow, checked after every step."""

    def __init__(self, bot: Harness) -> None:
        self.bot = bot
        self.user = FakeUser(next(USER_IDS), "Random", language_code="en")
        self.typed: list[dict[str, object]] = []
        self.engine = create_engine(bot.settings.database.url)

    async def state(self) -> object:
        async with session_factory(self.engine)() as session:
            return (await load_states(session, CONVERSATION)).get((self.user.id, self.user.id))

    async def act(self, kind: str, n: int) -> None:
        bot, user = self.bot, self.user
        sent = bot.api.sent_messages(user.id)
        last = sent[-1] if sent else {}
        if kind == "text":
            before = len(bot.api.user_messages(user.id))
            await bot.say(user, _answer(await self.state(), n))
            self.typed.extend(bot.api.user_messages(user.id)[before:])
        elif kind == "edit" and self.typed:
            message = self.typed[n % len(self.typed)]
            await bot.feed(bot.api.edited_message_update(user, message, f"E{n} edited"), user)
        elif kind == "press":
            buttons = [d for row in bot.api.buttons(last) for _t, d in row if d] if last else []
            if buttons:
                await bot.press_data(user, str(buttons[n % len(buttons)]), last)
        elif kind == "sticker":
            await bot.feed(bot.api.sticker_update(user), user)

    async def stored(self) -> tuple[Draft | None, list[Report]]:
        async with session_factory(self.engine)() as session:
            account = (
                await session.exec(select(Account).where(col(Account.telegram_id) == self.user.id))
            ).first()
            if account is None or account.id is None:
                return None, []
            loaded = await load_draft(session, account.id)
            reports = (
                await session.exec(
                    select(Report).where(col(Report.reporter_account_id) == account.id)
                )
            ).all()
        return (loaded[0] if loaded else None), list(reports)


def _own(value: str | None, mark: str) -> bool:
    return value is None or value.startswith(mark)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=ACTIONS)
async def test_no_answer_lands_in_the_wrong_field(bot: Harness, actions: list[Action]) -> None:
    flow = Flow(bot)  # a new person for each example; the bot and its database are shared
    try:
        await bot.say(flow.user, "/report")
        for kind, n in actions:
            await flow.act(kind, n)
            draft, reports = await flow.stored()
            if draft is not None:
                assert _own(draft.description, "D"), (actions, draft)
                assert _own(draft.time_place, "T"), (actions, draft)
                assert _own(draft.reporter_name, "N"), (actions, draft)
            for report in reports:
                assert report.description.startswith("D"), (actions, report.description)
                assert _own(report.time_place, "T"), (actions, report.time_place)
                assert _own(report.reporter_name, "N"), (actions, report.reporter_name)
    finally:
        await flow.engine.dispose()
