"""How long to wait before trying again: exponential backoff with full jitter.

Attempt n waits a random time between 0 and `min(cap, base * 2**(n-1))`. The randomness is the point:
after an outage of Rakuten or Cubyn, thousands of shops that failed at the same second spread their
retries over the whole window instead of coming back together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

_MAX_EXPONENT = 62  # 2**62 seconds is past any cap; a larger attempt number changes nothing


@dataclass(frozen=True)
class Backoff:
    base: float  # the ceiling of the first wait, in seconds
    cap: float  # no wait is ever longer
    max_attempts: int | None = None  # after this many attempts, stop trying (None: never stop)

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.cap:
            raise ValueError("a backoff needs 0 < base <= cap")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def ceiling(self, attempt: int) -> float:
        """The longest wait after the `attempt`-th failure (1 for the first)."""
        exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
        return min(self.cap, self.base * 2.0**exponent)

    def seconds(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or _RNG).uniform(0.0, self.ceiling(attempt))

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        return timedelta(seconds=self.seconds(attempt, rng))

    def exhausted(self, attempts: int) -> bool:
        """True once `attempts` attempts were made and no more are allowed."""
        return self.max_attempts is not None and attempts >= self.max_attempts


_RNG = random.Random()  # noqa: S311 - spreading retries, not security
QUOTA_SPREAD_SECONDS = (5.0, 60.0)


def spread_after(opens_at: datetime, rng: random.Random | None = None) -> datetime:
    """When a window closed until `opens_at` (Rakuten's hourly quota) may be tried again: a random moment
    shortly after it opens, so the shops it stopped together do not all come back in the same second."""
    return opens_at + timedelta(seconds=(rng or _RNG).uniform(*QUOTA_SPREAD_SECONDS))
