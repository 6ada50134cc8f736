"""A client that goes away before its body has come whole (a killed worker) gets a bare 400 from either
simulator, on the control API and on the contract alike, and nothing escapes the app as an error."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import ASGIApp, Message

from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.simulator import CubynSandbox
from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox


async def _call_then_disconnect(app: ASGIApp, method: str, path: str, headers: dict[str, str]) -> list[Message]:
    """An ASGI call whose client sends part of its body, then goes away; what the app sent back."""
    arriving: list[Message] = [
        {"type": "http.request", "body": b'{"error_', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return arriving.pop(0) if arriving else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("sandbox.test", 80),
    }
    await app(scope, receive, send)
    return sent


def _cubyn() -> ASGIApp:
    app = create_cubyn_sandbox(seed=1)
    sandbox = app.state.sandbox
    assert isinstance(sandbox, CubynSandbox)
    sandbox.state.create_application("m1", "Rakuten France", "k1")
    return app


@pytest.mark.parametrize(
    ("simulator", "method", "path", "headers"),
    [
        ("cubyn", "PUT", "/_sandbox/faults", {"Content-Type": "application/json"}),
        ("cubyn", "POST", "/parcels", {"Content-Type": "application/json", "X-Application": "k1"}),
        ("rakuten", "PUT", "/_sandbox/faults", {"Content-Type": "application/json"}),
        ("rakuten", "POST", "/stock_ws", {"Content-Type": "multipart/form-data; boundary=b"}),
    ],
)
async def test_a_client_gone_mid_body_gets_a_bare_400(
    simulator: str, method: str, path: str, headers: dict[str, str]
) -> None:
    app = _cubyn() if simulator == "cubyn" else create_rakuten_sandbox(seed=1)
    sent = await _call_then_disconnect(app, method, path, headers)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 400
    assert sent[1].get("body", b"") == b""
