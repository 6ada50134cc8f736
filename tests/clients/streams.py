"""Answer bodies that misbehave, for respx: they arrive slowly or never end (bounded, so a test that
fails still ends)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx


class Trickle(httpx.AsyncByteStream):
    """`count` times `chunk`, waiting `every` seconds before each (at most `count * every` seconds)."""

    def __init__(self, chunk: bytes, *, every: float, count: int) -> None:
        self.chunk = chunk
        self.every = every
        self.count = count
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            await asyncio.sleep(self.every)
            self.sent += 1
            yield self.chunk


class Endless(httpx.AsyncByteStream):
    """`chunk` again and again, without waiting, up to `count` times."""

    def __init__(self, chunk: bytes, *, count: int) -> None:
        self.chunk = chunk
        self.count = count
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.sent += 1
            yield self.chunk


def slow_answer(every: float | None) -> Callable[[httpx.Request], Awaitable[httpx.Response]]:
    """A respx side effect: a body trickling a byte `every` seconds, or (None) headers a minute late."""

    async def answer(request: httpx.Request) -> httpx.Response:
        if every is None:
            await asyncio.sleep(60)
            return httpx.Response(200)
        return httpx.Response(200, stream=Trickle(b" ", every=every, count=2000))

    return answer
