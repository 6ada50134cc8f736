"""Reading an upstream answer within bounds, for every client: a size cap and a total deadline.

httpx's timeouts bound each network wait, not the whole answer: a server trickling its headers or its body
one byte a second would hold a worker forever, and one sending without end would fill its memory.
`bounded_stream` opens the exchange with one deadline for all of it, headers included, and hands out the
body's chunks: past `max_bytes` they raise `AnswerTooLarge`, past the deadline (even in the middle of a
wait) `AnswerTooSlow`. Each client turns them into its own errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx


class AnswerTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the answer exceeds {max_bytes} bytes")
        self.max_bytes = max_bytes


class AnswerTooSlow(Exception):
    def __init__(self) -> None:
        super().__init__("the answer did not arrive before the deadline")


@asynccontextmanager
async def bounded_stream(
    client: httpx.AsyncClient, method: str, url: str, *, max_bytes: int, deadline: float, **request: Any
) -> AsyncIterator[tuple[httpx.Response, AsyncIterator[bytes]]]:
    """`client.stream(method, url, **request)` within `deadline` seconds, headers and body: yields the
    response and its body's chunks (read them inside the block)."""
    deadline_at = time.monotonic() + deadline
    async with AsyncExitStack() as stack:
        try:
            async with asyncio.timeout(deadline):
                response = await stack.enter_async_context(client.stream(method, url, **request))
        except TimeoutError:
            raise AnswerTooSlow() from None
        yield response, bounded_chunks(response, max_bytes=max_bytes, deadline_at=deadline_at)


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
