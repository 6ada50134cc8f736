"""NUL (which PostgreSQL refuses in text) and lone surrogates anywhere in a request: a 422 in the error
shape before any route runs, on every route, and nothing changes."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.auth import Role
from tests.conftest import auth_headers
from tests.upstream_fakes import Upstreams, connection_body, upstreams

__all__ = ["upstreams"]

A = auth_headers("merchant-a")
OPERATOR = auth_headers("ops", Role.OPERATOR)
BAD_TEXTS = ["a\x00b", "\x00", "a\ud800b"]


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """Every documented operation: (method, path template, its OpenAPI operation)."""
    paths: dict[str, dict[str, dict[str, Any]]] = app.openapi()["paths"]
    return [
        (method.upper(), path, op) for path, ops in sorted(paths.items()) for method, op in sorted(ops.items())
    ]


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _ in operations(app)]


def refused(response: httpx.Response) -> None:
    assert response.status_code == 422, (response.request.method, response.request.url, response.text)
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "\x00" not in response.text


async def connected(client: httpx.AsyncClient) -> str:
    response = await client.post("/v1/connections", json=connection_body(), headers=A)
    assert response.status_code == 201, response.text
    cid: str = response.json()["id"]
    return cid


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    async with sessions() as session:
        rows = (await session.scalars(select(Connection).order_by(Connection.id))).all()
        return [(c.id, c.name, c.seller_id, c.paused, c.stock_sync_enabled, c.state) for c in rows]


def json_text(value: object) -> bytes:
    # ensure_ascii writes NUL as \u0000 and a lone surrogate as \ud800, as any client may.
    return json.dumps(value, ensure_ascii=True).encode()


async def test_nul_in_any_path_parameter(
    app: FastAPI, client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await connected(client)
    before = await snapshot(sessions)
    real = {"connection_id": cid, "purchase_id": "31862100", "sync_id": cid, "event_id": cid}
    checked = 0
    for method, path in api_routes(app):
        for name in re.findall(r"{(\w+)}", path):
            # (Percent-encoded bytes that are not UTF-8 read as U+FFFD: a surrogate cannot come this way.)
            for bad in ("a\x00b", "\x00"):
                url = path.format(**{**real, name: quote(bad)})
                refused(await client.request(method, url, headers=OPERATOR, content=b"{}"))
                checked += 1
    assert checked >= 26
    assert await snapshot(sessions) == before


async def test_nul_in_any_query_parameter(
    app: FastAPI, client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await connected(client)
    before = await snapshot(sessions)
    checked = 0
    for method, path, op in operations(app):
        for param in op.get("parameters", []):
            if (
                param["in"] != "query"
                or param["schema"].get("anyOf", [param["schema"]])[0].get("type") != "string"
            ):
                continue
            for bad in ("a%00b", "%00", "a%ED%A0%80"):
                url = (
                    path.format(connection_id=cid, purchase_id="1", sync_id=cid, event_id=cid)
                    + f"?{param['name']}={bad}"
                )
                response = await client.request(method, url, headers=OPERATOR)
                if bad == "a%ED%A0%80":
                    # Not UTF-8: read as U+FFFD like any bad byte, never a 500.
                    assert response.status_code < 500, (url, response.text)
                    continue
                refused(response)
                checked += 1
    assert checked >= 8
    refused(await client.get("/v1/connections?merchant_id=x&%00=1", headers=OPERATOR))
    assert await snapshot(sessions) == before


async def test_nul_in_any_string_of_a_json_body(
    app: FastAPI, client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await connected(client)
    before = await snapshot(sessions)
    valid = {**connection_body(seller_id="another-seller"), "paused": False}
    bodies: list[object] = []
    for key, value in valid.items():
        if isinstance(value, str):
            bodies += [{**valid, key: value + bad} for bad in BAD_TEXTS]
    bodies += [{**valid, "na\x00me": "x"}, {"nested": [{"deep": ["\x00"]}]}, ["\x00"], "\x00"]
    checked = 0
    for method, path in api_routes(app):
        if method not in ("POST", "PATCH", "PUT"):
            continue
        url = path.format(connection_id=cid, purchase_id="31862100", sync_id=cid, event_id=cid)
        for body in bodies:
            headers = {**A, "content-type": "application/json"}
            refused(await client.request(method, url, headers=headers, content=json_text(body)))
            checked += 1
    assert checked >= 5 * len(bodies)
    assert await snapshot(sessions) == before
    assert upstreams.rakuten.call_count == 1


async def test_the_refusal_says_where(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    body = json_text({**connection_body(), "name": "x\x00"})
    response = await client.post(
        "/v1/connections", content=body, headers={**A, "content-type": "application/json"}
    )
    refused(response)
    assert response.json()["error"]["details"][0]["loc"] == ["body", "name"]
    path = await client.get("/v1/connections/a%00", headers=A)
    assert path.json()["error"]["details"][0]["loc"] == ["path"]
    query = await client.get("/v1/connections?merchant_id=%00", headers=OPERATOR)
    assert query.json()["error"]["details"][0]["loc"] == ["query", "merchant_id"]


@pytest.mark.parametrize("text", ['"\\\\u0000"', '"a\\\\ud800"'])
async def test_an_escaped_backslash_is_not_a_nul(
    client: httpx.AsyncClient, upstreams: Upstreams, text: str
) -> None:
    body = json.dumps(connection_body()).replace('"Ma boutique Rakuten"', text).encode()
    response = await client.post(
        "/v1/connections", content=body, headers={**A, "content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == json.loads(text)
