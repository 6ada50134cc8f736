"""Reading an answer within a size cap and a total deadline."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx

from rakuten_connector.clients.bounded import AnswerTooLarge, AnswerTooSlow, bounded_stream
from tests.clients.streams import Endless, Trickle

URL = "https://upstream.test/x"


async def read(stream: httpx.AsyncByteStream, max_bytes: int, seconds: float) -> bytes:
    with respx.mock() as mock:
        mock.get(URL).mock(return_value=httpx.Response(200, stream=stream))
        async with (
            httpx.AsyncClient() as http,
            bounded_stream(http, "GET", URL, max_bytes=max_bytes, deadline=seconds) as (_, chunks),
        ):
            return b"".join([chunk async for chunk in chunks])


async def test_a_body_within_bounds_is_read_whole() -> None:
    assert await read(Endless(b"ab", count=3), 6, 30) == b"ababab"


async def test_reading_stops_at_the_cap() -> None:
    stream = Endless(b"x" * 65536, count=10_000)
    with pytest.raises(AnswerTooLarge):
        await read(stream, 1024 * 1024, 30)
    assert stream.sent <= 17


async def test_a_trickle_stops_at_the_deadline() -> None:
    stream = Trickle(b"x", every=0.05, count=2000)
    started = time.monotonic()
    with pytest.raises(AnswerTooSlow):
        await read(stream, 1024 * 1024, 0.5)
    assert time.monotonic() - started < 20
    assert stream.sent < 1000


async def test_the_deadline_ends_a_wait_for_the_next_chunk() -> None:
    started = time.monotonic()
    with pytest.raises(AnswerTooSlow):
        await read(Trickle(b"x", every=60, count=2), 1024, 0.3)
    assert time.monotonic() - started < 20


async def test_the_deadline_covers_the_wait_for_the_headers() -> None:
    async def headers_after_a_minute(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(60)
        return httpx.Response(200)

    started = time.monotonic()
    with respx.mock(assert_all_called=False) as mock:  # the call is given up before respx records it
        mock.get(URL).mock(side_effect=headers_after_a_minute)
        async with httpx.AsyncClient() as http:
            with pytest.raises(AnswerTooSlow):
                async with bounded_stream(http, "GET", URL, max_bytes=1024, deadline=0.3):
                    pass
    assert time.monotonic() - started < 20
