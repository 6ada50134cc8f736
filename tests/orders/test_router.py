"""Order routes: list (state filter, cursor pagination), detail with items and timeline, retry, import now."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem, OrderState
from rakuten_connector.settings import Settings
from tests.conftest import auth_headers
from tests.upstream_fakes import Upstreams, connection_body

A = auth_headers("merchant-a")


@pytest.fixture
async def connection_id(client: httpx.AsyncClient, upstreams: Upstreams) -> str:
    response = await client.post("/v1/connections", json=connection_body(), headers=A)
    assert response.status_code == 201
    cid: str = response.json()["id"]
    return cid


async def add_orders(
    sessions: async_sessionmaker[AsyncSession], connection_id: str, states: list[OrderState]
) -> list[str]:
    base = utcnow() - timedelta(hours=1)
    purchase_ids = []
    async with sessions() as session:
        for n, state in enumerate(states):
            order = Order(
                connection_id=connection_id,
                purchase_id=f"3186210{n}",
                state=state.value,
                shipping_type="Suivi",
                delivery_mode="STANDARD",
                imported_at=base + timedelta(minutes=n),
                parcel_id=None if state in (OrderState.SKIPPED, OrderState.FAILED) else str(1000 + n),
                reason="Cubyn refused the address." if state is OrderState.FAILED else None,
            )
            session.add(order)
            await session.flush()
            session.add(
                OrderItem(order_id=order.id, item_id=f"26030608{n}", sku="SKU-1", rakuten_status="TO_CONFIRM")
            )
            session.add(OrderEvent(order_id=order.id, kind="imported", message="Parcel created at Cubyn."))
            purchase_ids.append(order.purchase_id)
        await session.commit()
    return purchase_ids


async def test_orders_newest_first_with_cursor_pages(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    purchase_ids = await add_orders(sessions, connection_id, [OrderState.IMPORTED] * 5)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/connections/{connection_id}/orders", params=params, headers=A)).json()
        seen += [o["purchase_id"] for o in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(purchase_ids))
    first = (await client.get(f"/v1/connections/{connection_id}/orders", headers=A)).json()["items"][0]
    assert first["items"] == [
        {
            "item_id": "260306084",
            "sku": "SKU-1",
            "cubyn_sku": None,
            "status": "TO_CONFIRM",
            "accepted_at": None,
            "tracking_pushed_at": None,
        }
    ]
    assert "events" not in first


async def test_state_filter(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add_orders(sessions, connection_id, [OrderState.SKIPPED, OrderState.IMPORTED, OrderState.SKIPPED])
    response = await client.get(f"/v1/connections/{connection_id}/orders?state=skipped", headers=A)
    assert [o["state"] for o in response.json()["items"]] == ["skipped", "skipped"]
    counts = (await client.get(f"/v1/connections/{connection_id}", headers=A)).json()["orders"]
    assert (counts["skipped"], counts["imported"], counts["shipped"]) == (2, 1, 0)


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("state=teleported", 422, "validation_error"),
        ("limit=201", 422, "validation_error"),
        ("limit=0", 422, "validation_error"),
        ("cursor=bm90LWEtY3Vyc29y", 400, "invalid_cursor"),
        ("cursor=%%%", 400, "invalid_cursor"),
    ],
)
async def test_bad_list_parameters(
    client: httpx.AsyncClient, connection_id: str, query: str, status: int, code: str
) -> None:
    response = await client.get(f"/v1/connections/{connection_id}/orders?{query}", headers=A)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def _cursor(raw: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        ["9999-12-31T23:00:00-05:00", "x"],
        ["0001-01-01T00:00:00+05:00", "x"],
        ["2024-01-01T00:00:00", "x"],
        ["2024-01-01T00:00:00+00:00", "x\u0000y"],
        ["2024-01-01T00:00:00+00:00", "x\ud800y"],
        ["2024-01-01T00:00:00+00:00"],
        ["2024-01-01T00:00:00+00:00", 7],
        {"a": 1},
    ],
    ids=[
        "year-9999-overflows",
        "year-1-underflows",
        "naive",
        "nul",
        "lone-surrogate",
        "short",
        "not-text",
        "not-a-list",
    ],
)
async def test_forged_cursors_are_refused(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession], raw: object
) -> None:
    await add_orders(sessions, connection_id, [OrderState.IMPORTED])
    response = await client.get(
        f"/v1/connections/{connection_id}/orders", params={"cursor": _cursor(raw)}, headers=A
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_cursor"


async def test_order_detail_has_items_and_timeline(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [purchase_id] = await add_orders(sessions, connection_id, [OrderState.FAILED])
    detail = (await client.get(f"/v1/connections/{connection_id}/orders/{purchase_id}", headers=A)).json()
    assert detail["state"] == "failed"
    assert detail["reason"] == "Cubyn refused the address."
    assert [e["kind"] for e in detail["events"]] == ["imported"]
    assert detail["items"][0]["item_id"] == "260306080"
    missing = await client.get(f"/v1/connections/{connection_id}/orders/999", headers=A)
    assert missing.status_code == 404


async def test_retry_a_failed_order(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    failed, imported = await add_orders(sessions, connection_id, [OrderState.FAILED, OrderState.IMPORTED])
    response = await client.post(f"/v1/connections/{connection_id}/orders/{failed}/retry", headers=A)
    assert response.status_code == 202
    detail = (await client.get(f"/v1/connections/{connection_id}/orders/{failed}", headers=A)).json()
    assert detail["state"] == "importing"
    assert detail["events"][-1]["kind"] == "retry_requested"
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.purchase_id == failed))
        assert order is not None
        assert order.next_check_at is not None
    redis = Redis.from_url(settings.redis_url)
    try:
        assert await redis.keys(f"arq:job:order-retry:{order.id}:*")
    finally:
        await redis.aclose()
    refused = await client.post(f"/v1/connections/{connection_id}/orders/{imported}/retry", headers=A)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "order_not_retryable"


async def test_import_now_is_accepted_and_scheduled(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        connection = await session.get(Connection, connection_id)
        assert connection is not None
        connection.next_import_at = utcnow() + timedelta(minutes=4)
        await session.commit()
    response = await client.post(f"/v1/connections/{connection_id}/imports", headers=A)
    assert response.status_code == 202
    async with sessions() as session:
        connection = await session.get(Connection, connection_id)
        assert connection is not None
        assert connection.next_import_at is not None
        assert connection.next_import_at <= utcnow()


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"paused": True}, "connection_paused"),
        ({"state": "credentials_invalid"}, "connection_credentials_invalid"),
    ],
)
async def test_import_now_refused_when_the_connection_cannot_import(
    client: httpx.AsyncClient,
    connection_id: str,
    sessions: async_sessionmaker[AsyncSession],
    change: dict[str, object],
    code: str,
) -> None:
    async with sessions() as session:
        connection = await session.get(Connection, connection_id)
        assert connection is not None
        for key, value in change.items():
            setattr(connection, key, value)
        await session.commit()
    response = await client.post(f"/v1/connections/{connection_id}/imports", headers=A)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == code


async def test_import_now_on_a_disconnected_connection(client: httpx.AsyncClient, connection_id: str) -> None:
    await client.delete(f"/v1/connections/{connection_id}", headers=A)
    response = await client.post(f"/v1/connections/{connection_id}/imports", headers=A)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "connection_disconnected"


async def test_an_order_shows_the_cubyn_sku_of_its_mapped_items(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [purchase_id] = await add_orders(sessions, connection_id, [OrderState.IMPORTED])
    async with sessions() as session:
        order = await session.scalar(select(Order).where(Order.purchase_id == purchase_id))
        assert order is not None
        session.add(
            OrderItem(order_id=order.id, item_id="9", sku="R-1", cubyn_sku="C-1", rakuten_status="TO_CONFIRM")
        )
        await session.commit()
    detail = (await client.get(f"/v1/connections/{connection_id}/orders/{purchase_id}", headers=A)).json()
    assert sorted((i["item_id"], i["sku"], i["cubyn_sku"]) for i in detail["items"]) == [
        ("260306080", "SKU-1", None),
        ("9", "R-1", "C-1"),
    ]
