"""Retry an idempotent call a few times on transient errors before giving up to the job's own retry."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def retry_transient(
    call: Callable[[], Awaitable[T]],
    transient: tuple[type[BaseException], ...],
    delays: Sequence[float] = (0.5, 1.5),
) -> T:
    """`call()`, again after each delay while it raises one of `transient`; the last error propagates."""
    for delay in delays:
        try:
            return await call()
        except transient:
            await asyncio.sleep(delay)
    return await call()
