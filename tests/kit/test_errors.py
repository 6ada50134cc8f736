"""One error shape everywhere, including 404, 405, 413, 422 and 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from rakuten_connector.main import create_app
from rakuten_connector.settings import Settings
from tests.conftest import auth_headers


def assert_error_shape(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


async def test_unknown_route_is_404(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.get("/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_405(client: httpx.AsyncClient) -> None:
    assert_error_shape(await client.put("/v1/connections", headers=auth_headers()), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "body", [b"[" * 50_000 + b"]" * 50_000, b'{"name": ' + b"9" * 5000 + b"}"], ids=["nested-100kB", "huge-number"]
)
async def test_json_body_the_parser_cannot_read_is_400_malformed_json(
    client: httpx.AsyncClient, body: bytes
) -> None:
    headers = {**auth_headers(), "content-type": "application/json"}
    response = await client.post("/v1/connections", content=body, headers=headers)
    assert_error_shape(response, 400, "malformed_json")


async def test_validation_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/connections", json={"name": 1}, headers=auth_headers())
    assert_error_shape(response, 422, "validation_error")
    assert isinstance(response.json()["error"]["details"], list)


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 5 * 1024 * 1024])
async def test_body_over_one_mib_is_413_with_content_length(client: httpx.AsyncClient, size: int) -> None:
    response = await client.post(
        "/v1/connections", content=b"x" * size, headers={**auth_headers(), "content-type": "application/json"}
    )
    assert_error_shape(response, 413, "payload_too_large")


async def test_body_over_one_mib_is_413_when_chunked(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        "/v1/connections", content=chunks(), headers={**auth_headers(), "content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_error_shape(response, 413, "payload_too_large")


async def test_a_body_at_the_limit_is_read(client: httpx.AsyncClient) -> None:
    padding = "y" * (1024 * 1024 - 200)
    response = await client.post(
        "/v1/connections",
        json={"name": "n", "seller_id": "s", "token": "t", "cubyn_api_key": "k", "pad": padding},
        headers=auth_headers(),
    )
    assert_error_shape(response, 422, "validation_error")  # read and refused for the unknown field


async def test_bad_content_length_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/connections", content=b"{}", headers={**auth_headers(), "content-length": "x"}
    )
    assert response.status_code in (400, 422)


@pytest.fixture
async def failing_app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail that must not leak")

    async with app.router.lifespan_context(app):
        yield app


async def test_unexpected_error_is_500_without_details(failing_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.get("/boom")
    assert_error_shape(response, 500, "internal_error")
    assert "secret detail" not in response.text


@pytest.mark.parametrize(
    "unreachable",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:1/nothing_listens_here",  # refused: the server is down
        "sqlite+aiosqlite:////nonexistent-directory/connector.db",  # cannot be opened
    ],
)
async def test_a_database_that_refuses_connections_is_503_with_retry_after(
    settings: Settings, unreachable: str
) -> None:
    app = create_app(settings.model_copy(update={"database_url": unreachable}))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        listed = await http.get("/v1/connections", headers=auth_headers())
        webhook = await http.post(
            "/v1/webhooks/cubyn/3f0c8e4e-5b8a-4f0e-9a51-2b8f2a7f9d10",
            json={"id": "evt_1", "type": "parcel.updated", "data": {}},
        )
    for response in (listed, webhook):
        assert_error_shape(response, 503, "database_unavailable")
        assert int(response.headers["retry-after"]) > 0
