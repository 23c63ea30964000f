"""One Bot API call of a reply, on its own: retried when that is safe, logged when it is lost.

A reply is several calls (answer the button, edit the pressed message, send the next question).
One failing must not take the others with it: the toast of a press matters little, the message
that carries the substance matters most. A call refused with an answer did not happen and is
tried again a couple of times; a call whose answer was lost may have happened, so a message is
not sent again (the person may otherwise get it twice) while an edit or an answer to a press,
which come out the same however often they are made, is.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.runtime.telegram_errors import may_have_arrived

log = logging.getLogger(__name__)

ATTEMPTS = 3
PAUSE_SECONDS = 0.2
"""Between attempts; a longer outage is the outbox's to ride out, not a waiting person's."""
LONGEST_WAIT = 2.0
"""A 429 asking for longer than this is not waited out while a person waits."""
_CODE = re.compile(r"<code>.*?</code>", re.DOTALL)


def lost_text(text: str | None) -> str:
    """What a lost message said, for the log: its first line, cut, with codes (a receipt) masked."""
    if not text:
        return "-"
    first = _CODE.sub("<code>…</code>", text).splitlines()[0]
    return first[:80]


async def call(
    what: str,
    make: Callable[[], Awaitable[object]],
    *,
    repeatable: bool,
    text: str | None = None,
    not_modified_is_done: bool = False,
) -> bool:
    """Make the call; True when Telegram confirmed it (or it changed nothing: see
    `not_modified_is_done`). `repeatable`: doing it twice comes out as once (an edit, an answer
    to a press). A `Forbidden` (the person blocked the bot) is raised for the caller to record;
    a `BadRequest` is logged and given up."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await make()
            return True
        except Forbidden:
            raise
        except BadRequest as error:
            if not_modified_is_done and "not modified" in str(error).lower():
                return True
            log.warning("%s refused: %s (lost: %s)", what, error, lost_text(text))
            return False
        except RetryAfter as error:
            wait = error.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            if seconds > LONGEST_WAIT or attempt == ATTEMPTS:
                log.warning("%s not sent: rate limited for %.0f s (lost: %s)", what, seconds, text)
                return False
            await asyncio.sleep(seconds)
        except TelegramError as error:
            if may_have_arrived(error) and not repeatable:
                log.warning(
                    "%s may not have arrived (%s); not sent again to avoid a copy (maybe lost: %s)",
                    what,
                    error,
                    lost_text(text),
                )
                return False
            if attempt == ATTEMPTS:
                log.warning("%s not delivered: %s (lost: %s)", what, error, lost_text(text))
                return False
            await asyncio.sleep(PAUSE_SECONDS * attempt)
    return False
