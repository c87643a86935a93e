"""When to try a failed delivery again: exponential backoff with jitter. Attempt n (from 1)
that failed waits base * 2^(n-1), capped at `cap`, times a random factor in [0.5, 1] so that
receivers coming back are not hit by every registry at once. With the defaults (20 attempts,
10 s, 3 h) the schedule spans about a day; `Retry-After` from the receiver is honoured when
it asks for longer (still capped)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    attempts: int = 20
    base: float = 10.0
    cap: float = 10800.0

    def nominal(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2 ** min(attempt - 1, 60)))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        delay = self.nominal(attempt) * random.uniform(0.5, 1.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.cap))
        return delay

    def span(self) -> float:
        """How long the whole schedule lasts at most."""
        return sum(self.nominal(attempt) for attempt in range(1, self.attempts))
