"""python-telegram-bot has no public way to end a conversation from outside its callbacks, so
`leave_other_flows` (handlers/cases/commands.py) uses two private parts of `ConversationHandler`:
`_conversations` (is this key in the conversation?) and `_update_state(END, key)` (end it).
pyproject.toml pins the version they were checked with; this fails loudly if they change."""

from __future__ import annotations

from telegram.ext import ConversationHandler

from tests.harness import Harness

REASON = (
    "leave_other_flows (handlers/cases/commands.py) ends other flows through the private "
    "ConversationHandler._conversations and _update_state(new_state, key); this "
    "python-telegram-bot no longer has them as they were: rework it before moving the pin in "
    "pyproject.toml"
)


def _conversation_handlers(bot: Harness) -> list[ConversationHandler]:
    assert bot.app is not None
    return [
        handler
        for group in bot.app.handlers.values()
        for handler in group
        if isinstance(handler, ConversationHandler)
    ]


async def test_conversation_handlers_keep_the_internals_leave_other_flows_uses(
    bot: Harness,
) -> None:
    handlers = _conversation_handlers(bot)
    assert any(handler.persistent for handler in handlers)
    key = (987654321, 987654321)
    for handler in handlers:
        assert hasattr(handler, "_conversations"), REASON
        assert callable(getattr(handler, "_update_state", None)), REASON
        state = next(iter(handler.states))
        assert key not in handler._conversations, REASON
        handler._update_state(state, key)
        assert key in handler._conversations, REASON
        handler._update_state(ConversationHandler.END, key)
        assert key not in handler._conversations, REASON
