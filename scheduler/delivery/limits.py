"""Sending pace: Telegram's limits (and WeCom's) as a small, clock-injected calculator.

Telegram allows about 30 messages per second overall, 1 per second to one private chat and 20
per minute to one group; a WeCom group robot takes 20 per minute. Going over earns 429s (and a
WeCom robot is blocked for a while), so the sender asks before each message how long to wait.
The overall pace is spread evenly (one slot every 1/rate seconds, no bursts): a burst that
Telegram's own sliding window counts as 31 in a second is exactly what must not happen.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class SendLimits:
    overall_per_second: float = 29.0
    """Under Telegram's 30, so clock jitter between bot and server never makes 31."""
    chat_interval: float = 1.0
    group_per_minute: int = 20
    robot_per_minute: int = 20
    clock: Callable[[], float] = time.monotonic
    _next_slot: float = 0.0
    _chat_last: dict[int, float] = field(default_factory=dict)
    _windows: dict[object, deque[float]] = field(default_factory=dict)

    def overall_wait(self) -> float:
        return max(0.0, self._next_slot - self.clock())

    def take_overall(self) -> None:
        """Book the next overall slot (call when a message actually goes)."""
        now = self.clock()
        self._next_slot = max(now, self._next_slot) + 1.0 / self.overall_per_second

    def recipient_wait(self, recipient: tuple[str, int]) -> float:
        """How long until this chat (or robot) may get another message."""
        now = self.clock()
        channel, ident = recipient
        if channel == "telegram" and ident > 0:
            last = self._chat_last.get(ident)
            return 0.0 if last is None else max(0.0, last + self.chat_interval - now)
        window = self._windows.get(recipient)
        per_minute = self.robot_per_minute if channel == "wecom" else self.group_per_minute
        if window is None:
            return 0.0
        while window and window[0] <= now - 60.0:
            window.popleft()
        return 0.0 if len(window) < per_minute else window[0] + 60.0 - now

    def record(self, recipient: tuple[str, int]) -> None:
        now = self.clock()
        channel, ident = recipient
        if channel == "telegram" and ident > 0:
            self._chat_last[ident] = now
            if len(self._chat_last) > 50_000:
                # Forget chats last served over a second ago: they are free again anyway.
                self._chat_last = {
                    c: t for c, t in self._chat_last.items() if t > now - self.chat_interval
                }
            return
        self._windows.setdefault(recipient, deque()).append(now)
