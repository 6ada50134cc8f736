"""The stock routes over the ASGI app: filters, pagination, validation, and the sync request's refusals."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.stock.models import StockItem, StockStatus
from tests.conftest import auth_headers
from tests.upstream_fakes import Upstreams, connection_body

A = auth_headers("merchant-a")


@pytest.fixture
async def connection_id(client: httpx.AsyncClient, upstreams: Upstreams) -> str:
    response = await client.post("/v1/connections", json=connection_body(), headers=A)
    assert response.status_code == 201
    cid: str = response.json()["id"]
    return cid


async def test_stock_is_listed_by_sku_filtered_and_paginated(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = utcnow()
    async with sessions() as session:
        session.add_all(
            [
                StockItem(connection_id=connection_id, sku="B", wanted_quantity=2, wanted_at=now, version=1),
                StockItem(
                    connection_id=connection_id,
                    sku="A",
                    wanted_quantity=1,
                    wanted_at=now,
                    version=2,
                    pushed_version=2,
                    status=StockStatus.PUSHED.value,
                    pushed_quantity=1,
                    pushed_at=now - timedelta(minutes=1),
                ),
                StockItem(
                    connection_id=connection_id,
                    sku="C",
                    wanted_quantity=3,
                    version=1,
                    pushed_version=1,
                    status=StockStatus.REJECTED.value,
                    reason="Référence vendeur inconnue : C",
                ),
            ]
        )
        await session.commit()
    url = f"/v1/connections/{connection_id}/stock"
    first = (await client.get(url, params={"limit": 2}, headers=A)).json()
    assert [i["sku"] for i in first["items"]] == ["A", "B"]
    assert first["items"][0] == {
        "sku": "A",
        "cubyn_sku": "A",
        "wanted_quantity": 1,
        "published_quantity": 1,
        "wanted_at": first["items"][0]["wanted_at"],
        "pushed_quantity": 1,
        "pushed_at": first["items"][0]["pushed_at"],
        "status": "pushed",
        "reason": None,
    }
    second = (await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=A)).json()
    assert ([i["sku"] for i in second["items"]], second["next_cursor"]) == (["C"], None)
    rejected = (await client.get(url, params={"status": "rejected"}, headers=A)).json()["items"]
    assert [(i["sku"], i["reason"]) for i in rejected] == [("C", "Référence vendeur inconnue : C")]
    assert [i["sku"] for i in (await client.get(url, params={"sku": "B"}, headers=A)).json()["items"]] == ["B"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"status": "lost"}, 422, "validation_error"),
        ({"limit": 0}, 422, "validation_error"),
        ({"limit": 501}, 422, "validation_error"),
        ({"cursor": "_w"}, 400, "invalid_cursor"),
    ],
)
async def test_bad_stock_queries_are_refused(
    client: httpx.AsyncClient, connection_id: str, params: dict[str, object], status: int, code: str
) -> None:
    response = await client.get(f"/v1/connections/{connection_id}/stock", params=params, headers=A)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


@pytest.mark.parametrize(
    ("change", "code"),
    [({"paused": True}, "connection_paused"), ({"stock_sync_enabled": False}, "stock_sync_disabled")],
)
async def test_a_sync_is_refused_while_the_connection_cannot_push(
    client: httpx.AsyncClient, connection_id: str, change: dict[str, object], code: str
) -> None:
    assert (await client.patch(f"/v1/connections/{connection_id}", json=change, headers=A)).status_code == 200
    response = await client.post(f"/v1/connections/{connection_id}/stock-syncs", headers=A)
    assert (response.status_code, response.json()["error"]["code"]) == (409, code)


async def test_a_disconnected_connection_cannot_sync(client: httpx.AsyncClient, connection_id: str) -> None:
    assert (await client.delete(f"/v1/connections/{connection_id}", headers=A)).status_code == 204
    response = await client.post(f"/v1/connections/{connection_id}/stock-syncs", headers=A)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "connection_disconnected")


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(["A\u0000"]).encode(),
        json.dumps(["9999-12-31T23:00:00-05:00", "x"]).encode(),
        json.dumps([7]).encode(),
        b"A\x00B",
        b"\xff\xfe",
    ],
    ids=["nul-in-sku", "two-parts", "not-text", "raw-nul", "not-utf8"],
)
async def test_forged_stock_cursors_are_refused(client: httpx.AsyncClient, connection_id: str, raw: bytes) -> None:
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = await client.get(f"/v1/connections/{connection_id}/stock", params={"cursor": cursor}, headers=A)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_cursor"
