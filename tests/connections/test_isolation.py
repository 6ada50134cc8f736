"""Tenant isolation: merchant B on every route of merchant A's connection gets 404; an operator sees all."""

from __future__ import annotations

import httpx
import pytest

from rakuten_connector.kit.auth import Role
from tests.conftest import auth_headers
from tests.upstream_fakes import Upstreams, connection_body

A = auth_headers("merchant-a")
B = auth_headers("merchant-b")
OPERATOR = auth_headers("ops", Role.OPERATOR)

# Every route that names a connection (later domains add theirs here).
ROUTES: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/v1/connections/{id}", None),
    ("PATCH", "/v1/connections/{id}", {"name": "stolen"}),
    ("PATCH", "/v1/connections/{id}", {"paused": True}),
    ("POST", "/v1/connections/{id}/imports", None),
    ("GET", "/v1/connections/{id}/orders", None),
    ("GET", "/v1/connections/{id}/orders/31862101", None),
    ("POST", "/v1/connections/{id}/orders/31862101/retry", None),
    ("POST", "/v1/connections/{id}/orders/retries", {"state": "failed"}),
    ("GET", "/v1/connections/{id}/carrier-mappings", None),
    ("PATCH", "/v1/connections/{id}/carrier-mappings", {"So Colissimo": "STANDARD"}),
    ("GET", "/v1/connections/{id}/stock", None),
    ("POST", "/v1/connections/{id}/stock-syncs", None),
    ("GET", "/v1/connections/{id}/stock-syncs/00000000-0000-4000-8000-000000000000", None),
    ("DELETE", "/v1/connections/{id}", None),
]


@pytest.fixture
async def connection_of_a(client: httpx.AsyncClient, upstreams: Upstreams) -> str:
    response = await client.post("/v1/connections", json=connection_body(), headers=A)
    assert response.status_code == 201
    cid: str = response.json()["id"]
    return cid


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_other_merchant_gets_the_same_404_as_a_missing_connection(
    client: httpx.AsyncClient, connection_of_a: str, method: str, path: str, body: dict[str, object] | None
) -> None:
    foreign = await client.request(method, path.format(id=connection_of_a), json=body, headers=B)
    missing = await client.request(
        method, path.format(id="00000000-0000-4000-8000-000000000000"), json=body, headers=B
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    # Nothing changed for A.
    mine = (await client.get(f"/v1/connections/{connection_of_a}", headers=A)).json()
    assert (mine["name"], mine["paused"], mine["status"]) == ("Ma boutique Rakuten", False, "active")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_operator_reaches_every_route(
    client: httpx.AsyncClient, connection_of_a: str, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = await client.request(method, path.format(id=connection_of_a), json=body, headers=OPERATOR)
    if "/orders/31862101" in path or "/stock-syncs/" in path:
        assert response.json()["error"]["code"] == "not_found"  # reached the lookup: no such order or sync
    else:
        assert response.status_code in (200, 202, 204)


async def test_other_merchant_does_not_see_it_in_lists(client: httpx.AsyncClient, connection_of_a: str) -> None:
    assert (await client.get("/v1/connections", headers=B)).json() == {"items": []}


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "00000000-0000-4000-8000-00000000000Z"])
async def test_malformed_ids_are_plain_404s(client: httpx.AsyncClient, bad_id: str) -> None:
    response = await client.get(f"/v1/connections/{bad_id}", headers=A)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
