"""Which failed Bot API calls may still have reached Telegram.

Telegram offers no idempotency key. A call refused with an answer (a 4xx, a 5xx, a 429) did not
happen, so sending it again is safe; a call whose answer never came (a timeout, a connection
that broke after the request left) may have happened, so sending it again may make a second
copy. The transports raise `NoAnswer` for the second kind, so the reply path and the outbox can
retry the first freely and count the second as in doubt.
"""

from __future__ import annotations

from telegram.error import NetworkError, TimedOut


class NoAnswer(NetworkError):
    """The request may have reached Telegram, but its answer was lost."""


def may_have_arrived(error: BaseException) -> bool:
    """True when Telegram may have carried out the failed call."""
    return isinstance(error, TimedOut | NoAnswer)
