"""Building ConversationHandlers the way every flow of the product needs them."""

from __future__ import annotations

import warnings
from typing import Any

from telegram.ext import ConversationHandler
from telegram.warnings import PTBUserWarning


def conversation(**kwargs: Any) -> ConversationHandler[Any]:
    """A conversation per person (chat and user), mixing text and button steps.

    python-telegram-bot warns that button presses are then not tracked per message. That is what
    we want: one conversation per person, and every button checks on the server whether it is
    still valid (stale buttons get a clear refusal), so the warning is silenced here only.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
        return ConversationHandler(**kwargs)
