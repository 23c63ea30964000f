"""One person sending faster than a person can: told once, then not read for a while.

Each person's updates are handled one after another, so a flood cannot overtake anybody else's
update; but every update it sends still costs a handler, a database session and a reply, and
its replies fill that chat's share of Telegram's limits until they are refused. Counting per
person in memory, before any handler runs, costs nothing, so the gate sits in front of every
flow: past `updates` in `seconds` the person is asked once to slow down, and what they send in
the next `pause_seconds` is dropped unread (a person typing normally never gets near 20 in 10 s).
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

_PRUNE_AT = 50_000


class Verdict(enum.Enum):
    admit = "admit"
    warn = "warn"
    """Just went over: tell the person once, and do not handle this update."""
    drop = "drop"


@dataclass
class FloodGate:
    updates: int = 20
    seconds: float = 10.0
    pause_seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[int, deque[float]] = field(default_factory=dict)
    _paused: dict[int, float] = field(default_factory=dict)
    _warnings: set[int] = field(default_factory=set)

    def admit(self, person: int) -> Verdict:
        now = self.clock()
        until = self._paused.get(person)
        if until is not None:
            if now < until:
                return Verdict.drop
            del self._paused[person]
        seen = self._seen.setdefault(person, deque())
        seen.append(now)
        while seen and seen[0] <= now - self.seconds:
            seen.popleft()
        if len(seen) <= self.updates:
            if len(self._seen) > _PRUNE_AT:
                self._prune(now)
            return Verdict.admit
        del self._seen[person]
        self._paused[person] = now + self.pause_seconds
        return Verdict.warn

    def arrived(self, person: int, update_id: int) -> bool:
        """Count an update as it arrives; False: drop it unhandled. The update that crosses
        the limit is handled, and `take_warning` tells its handler to say so."""
        verdict = self.admit(person)
        if verdict is Verdict.warn:
            self._warnings.add(update_id)
        return verdict is not Verdict.drop

    def take_warning(self, update_id: int) -> bool:
        """Whether this update crossed the limit (once: the answer is given once)."""
        if update_id in self._warnings:
            self._warnings.discard(update_id)
            return True
        return False

    def _prune(self, now: float) -> None:
        """Forget people who sent nothing within the window: they start from zero anyway."""
        self._seen = {p: s for p, s in self._seen.items() if s and s[-1] > now - self.seconds}
        self._paused = {p: t for p, t in self._paused.items() if t > now}
