"""Running calls ahead of their consumer, a few at a time, while handing out their results in order."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def in_order(calls: Iterable[Callable[[], Awaitable[T]]], concurrency: int) -> AsyncGenerator[T, None]:
    """The results of `calls`, in the order of `calls`, with up to `concurrency` of them running at once
    (started before the consumer asks). A call that fails raises here, at its turn. Leaving early (close the
    generator, e.g. with `contextlib.aclosing`) cancels the calls still running."""
    upcoming = iter(calls)
    running: deque[asyncio.Future[T]] = deque()

    def start_next() -> None:
        call = next(upcoming, None)
        if call is not None:
            running.append(asyncio.ensure_future(call()))

    try:
        for _ in range(max(1, concurrency)):
            start_next()
        while running:
            result = await running.popleft()
            start_next()
            yield result
    finally:
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)
