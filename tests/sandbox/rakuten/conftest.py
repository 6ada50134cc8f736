from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
from rakuten_connector.sandbox.rakuten.simulator import RakutenSandbox


@pytest.fixture
async def rakuten_http() -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of a fresh Rakuten sandbox (control API and web services)."""
    app = create_rakuten_sandbox(seed=7)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rakuten.test") as http:
        yield http


@pytest.fixture
def rakuten_sandbox(rakuten_http: httpx.AsyncClient) -> RakutenSandbox:
    transport = rakuten_http._transport
    assert isinstance(transport, httpx.ASGITransport)
    sandbox = transport.app.state.sandbox  # type: ignore[attr-defined]
    assert isinstance(sandbox, RakutenSandbox)
    return sandbox
