"""The one uvicorn helper: a real socket for the block, and, embedded, the program's signal handlers left
alone (the demo runs several servers in one loop and handles Ctrl-C itself)."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from rakuten_connector.kit.keep_alive import SERVER_KEEP_ALIVE_SECONDS
from rakuten_connector.sandbox.serve import free_port, serve


async def hello(_: Request) -> Response:
    return PlainTextResponse("hello")


async def client_port(request: Request) -> Response:
    assert request.client is not None
    return PlainTextResponse(str(request.client.port))


APP = Starlette(routes=[Route("/", hello), Route("/port", client_port)])


@pytest.mark.parametrize("embedded", [False, True])
async def test_serves_until_the_block_ends(embedded: bool) -> None:
    before = signal.getsignal(signal.SIGINT)
    port = free_port()
    async with serve(APP, port=port, embedded=embedded) as url, httpx.AsyncClient() as http:
        assert url == f"http://127.0.0.1:{port}"
        assert (await http.get(url)).text == "hello"
        if embedded:
            assert signal.getsignal(signal.SIGINT) is before
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)
    assert signal.getsignal(signal.SIGINT) is before


async def test_a_server_that_cannot_start_says_so() -> None:
    async with serve(APP) as url:
        port = int(url.rsplit(":", 1)[1])
        with pytest.raises(RuntimeError, match=f"port {port} could not start"):
            async with serve(APP, port=port, embedded=True):
                pass


async def test_an_idle_connection_stays_open_past_the_clients_keep_alive() -> None:
    # uvicorn closes idle connections after 5 s by default: the moment httpx's pool still reuses them, so a
    # request could be written on a connection being closed and get no answer (a stock file, a webhook).
    limits = httpx.Limits(keepalive_expiry=SERVER_KEEP_ALIVE_SECONDS)
    async with serve(APP) as url, httpx.AsyncClient(limits=limits) as http:
        first = (await http.get(f"{url}/port")).text
        await asyncio.sleep(6)
        assert (await http.get(f"{url}/port")).text == first  # the same connection, still open
