"""Rate limits shared by every API replica: moving windows kept in Redis (the `limits` library).

A limit is a rate in `limits` notation (`10/minute`, `100 per hour`) applied to one scope (what is being
limited, e.g. `import`) and one caller (whoever the caller is: a merchant, an operator). Going over answers
429 `rate_limited` with `Retry-After` in the API's error shape.

When Redis cannot be reached the limiter fails open: the request goes through and a warning is logged.
Refusing every costly call because the limiter's own store is down would turn a Redis outage into an API
outage, while the upstream services keep their own quotas (which the connector already honours).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from rakuten_connector.kit.errors import RETRY_AFTER, ApiError, ErrorAnswer

log = structlog.get_logger(__name__)

KEY_PREFIX = "rakuten-connector:rate-limits"
# Redis answers in well under a millisecond: a slower one is treated as down rather than slowing the API.
REDIS_TIMEOUT_SECONDS = 1.0


# The OpenAPI description of the answer, for the `responses` of a limited route (`error_responses`).
RATE_LIMITED = {
    429: ErrorAnswer(
        "rate_limited",
        "Too many requests of this kind; try again in 42 seconds.",
        {"scope": "import", "limit": "10 per 1 minute", "retry_after_seconds": 42},
        headers=RETRY_AFTER,
    )
}


class RateLimited(ApiError):
    """429 `rate_limited`: the caller must wait `retry_after` seconds."""

    def __init__(self, scope: str, rate: RateLimitItem, retry_after: int) -> None:
        super().__init__(
            429,
            "rate_limited",
            f"Too many requests of this kind; try again in {retry_after} seconds.",
            {"scope": scope, "limit": str(rate), "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


@lru_cache(maxsize=64)
def parse_rate(rate: str) -> RateLimitItem:
    """`10/minute` -> a rate limit item; ValueError when `rate` is not in `limits` notation."""
    return parse(rate)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0


class RateLimiter:
    """One per process; every process pointed at the same Redis shares the same counts."""

    def __init__(self, redis_url: str, *, timeout: float = REDIS_TIMEOUT_SECONDS) -> None:
        self._pool = ConnectionPool.from_url(
            redis_url, socket_timeout=timeout, socket_connect_timeout=timeout, max_connections=50
        )
        storage = RedisStorage(
            "async+" + redis_url,
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            wrap_exceptions=True,
            connection_pool=self._pool,  # type: ignore[arg-type]  # passed on to redis-py as is
        )
        self._limiter = MovingWindowRateLimiter(storage)

    def __repr__(self) -> str:
        return "RateLimiter()"

    async def close(self) -> None:
        await self._pool.aclose()

    async def hit(self, scope: str, rate: str, caller: str) -> Decision:
        """Count one request of `caller` in `scope`; allowed while under `rate` (and when Redis is down)."""
        item = parse_rate(rate)
        try:
            if await self._limiter.hit(item, scope, caller):
                return Decision(True)
            stats = await self._limiter.get_window_stats(item, scope, caller)
        except StorageError as exc:
            log.warning(
                "rate_limit_unavailable", scope=scope, error=type(exc.storage_error).__name__, allowed=True
            )
            return Decision(True)
        return Decision(False, max(1, math.ceil(stats.reset_time - time.time())))

    async def check(self, scope: str, rate: str, caller: str) -> None:
        """Raise RateLimited when `caller` is over `rate` in `scope`."""
        decision = await self.hit(scope, rate, caller)
        if not decision.allowed:
            raise RateLimited(scope, parse_rate(rate), decision.retry_after)
