"""Reading an upstream answer within bounds, for every client: a size cap and a total deadline.

httpx's timeouts bound each network wait, not the whole answer: a server trickling one byte a second would
hold a worker forever, and one sending without end would fill its memory. `bounded_chunks` stops both: past
`max_bytes` it raises `AnswerTooLarge`, past `deadline_at` (a `time.monotonic()` instant), even in the
middle of a wait for the next chunk, it raises `AnswerTooSlow`. Each client turns them into its own errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx


class AnswerTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the answer exceeds {max_bytes} bytes")
        self.max_bytes = max_bytes


class AnswerTooSlow(Exception):
    def __init__(self) -> None:
        super().__init__("the answer did not arrive before the deadline")


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


async def bounded_chunks(response: httpx.Response, *, max_bytes: int, deadline_at: float) -> AsyncIterator[bytes]:
    """The (decoded) body of a streamed response, chunk by chunk, within the bounds."""
    chunks = response.aiter_bytes()
    size = 0
    while True:
        remaining = deadline_at - time.monotonic()
        if remaining <= 0:
            raise AnswerTooSlow()
        try:
            async with asyncio.timeout(remaining):
                chunk = await anext(chunks)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise AnswerTooSlow() from None
        size += len(chunk)
        if size > max_bytes:
            raise AnswerTooLarge(max_bytes)
        yield chunk


async def read_bounded(response: httpx.Response, *, max_bytes: int, deadline_at: float) -> bytes:
    """The whole body, within the bounds (at most `max_bytes` held)."""
    return b"".join(
        [chunk async for chunk in bounded_chunks(response, max_bytes=max_bytes, deadline_at=deadline_at)]
    )
