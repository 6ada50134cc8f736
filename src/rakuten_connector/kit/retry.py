"""Retry an idempotent call a few times on transient errors before giving up to the job's own retry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rakuten_connector.kit.backoff import Backoff

T = TypeVar("T")

QUICK = Backoff(base=0.5, cap=2.0, max_attempts=3)  # within one job: a blip, not an outage


async def retry_transient(
    call: Callable[[], Awaitable[T]],
    transient: tuple[type[Exception], ...],
    backoff: Backoff = QUICK,
    *,
    when: Callable[[Exception], bool] | None = None,
    before_retry: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """`call()`, again after a jittered wait while it raises one of `transient` (for which `when`, if
    given, holds), at most `backoff.max_attempts` calls in all; the last error propagates. `before_retry`
    runs before each wait (a rollback, say)."""
    if backoff.max_attempts is None:
        raise ValueError("retry_transient needs a bounded backoff")
    attempt = 1
    while True:
        try:
            return await call()
        except transient as exc:
            if backoff.exhausted(attempt) or (when is not None and not when(exc)):
                raise
            if before_retry is not None:
                await before_retry()
            await asyncio.sleep(backoff.seconds(attempt))
            attempt += 1
