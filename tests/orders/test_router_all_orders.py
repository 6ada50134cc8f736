"""The operators' order list (`GET /v1/orders`): every connection's orders newest first, cursor pages with no
row missing or repeated (ties on the import time included), filters that combine, the item shape of a
connection's list, and a 403 for merchants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.auth import Role
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderState
from tests.conftest import auth_headers
from tests.orders.many_orders import add_many_orders, add_shop

OPERATOR = auth_headers("ops", Role.OPERATOR)
A = auth_headers("merchant-a")


@dataclass(frozen=True)
class Shops:
    a1: str
    a2: str
    b: str
    # Every order as (purchase_id, connection_id, merchant_id, state), newest first.
    orders: list[tuple[str, str, str, str]]


@pytest.fixture
async def shops(sessions: async_sessionmaker[AsyncSession]) -> Shops:
    """Merchant A's two shops and merchant B's one, whose orders interleave in time; A2's are all
    imported at one instant, which B's newest shares too."""
    a1, a2, b = [await add_shop(sessions, m) for m in ("merchant-a", "merchant-a", "merchant-b")]
    base = utcnow() - timedelta(hours=2)
    tie = base + timedelta(minutes=30)
    await add_many_orders(
        sessions, a1, 3, OrderState.FAILED, first=100, imported_at=base, apart=timedelta(minutes=20)
    )
    await add_many_orders(sessions, a1, 2, OrderState.SHIPPED, first=110, imported_at=base + timedelta(minutes=5))
    await add_many_orders(sessions, a2, 4, OrderState.FAILED, first=200, imported_at=tie, apart=timedelta(0))
    await add_many_orders(sessions, a2, 1, OrderState.IMPORTED, first=210, imported_at=tie)
    await add_many_orders(
        sessions, b, 2, OrderState.FAILED, first=300, imported_at=base, apart=timedelta(minutes=30)
    )
    await add_many_orders(sessions, b, 1, OrderState.NEEDS_ATTENTION, first=310, imported_at=tie)
    merchant = {a1: "merchant-a", a2: "merchant-a", b: "merchant-b"}
    async with sessions() as session:
        rows = (await session.execute(select(Order).order_by(Order.imported_at.desc(), Order.id.desc()))).scalars()
        orders = [(o.purchase_id, o.connection_id, merchant[o.connection_id], o.state) for o in rows]
    return Shops(a1, a2, b, orders)


async def every_page(client: httpx.AsyncClient, params: dict[str, Any]) -> tuple[list[str], list[int]]:
    """The purchase ids of every page of the operators' list, in order, and each page's size."""
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    while True:
        answer = await client.get(
            "/v1/orders", params={**params, **({"cursor": cursor} if cursor else {})}, headers=OPERATOR
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert set(page) == {"items", "next_cursor"}
        seen += [item["purchase_id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, sizes


@pytest.mark.parametrize("limit", [1, 3, 13, 200])
async def test_operators_page_through_every_order_newest_first(
    client: httpx.AsyncClient, shops: Shops, limit: int
) -> None:
    expected = [purchase_id for purchase_id, *_ in shops.orders]
    assert len(expected) == 13
    seen, sizes = await every_page(client, {"limit": limit})
    assert seen == expected  # nothing missing, nothing twice, newest first, ties in one order
    assert sizes == [limit] * (13 // limit) + ([13 % limit] if 13 % limit else [])
    page = (await client.get("/v1/orders", params={"limit": 13}, headers=OPERATOR)).json()
    assert [(i["purchase_id"], i["connection_id"]) for i in page["items"]] == [o[:2] for o in shops.orders]


@pytest.mark.parametrize(
    "filters",
    [
        {"state": "failed"},
        {"merchant_id": "merchant-a"},
        {"connection_id": "a2"},
        {"merchant_id": "merchant-a", "state": "failed"},
        {"connection_id": "a1", "state": "shipped"},
        {"merchant_id": "merchant-b", "connection_id": "b", "state": "needs_attention"},
        {"merchant_id": "merchant-b", "connection_id": "a1"},
        {"merchant_id": "merchant-z"},
        {"state": "cancelled"},
        {"merchant_id": "", "connection_id": ""},
    ],
)
async def test_filters_combine_across_pages(
    client: httpx.AsyncClient, shops: Shops, filters: dict[str, str]
) -> None:
    params = {
        key: getattr(shops, value) if key == "connection_id" and value else value for key, value in filters.items()
    }
    expected = [
        purchase_id
        for purchase_id, connection_id, merchant_id, state in shops.orders
        if params.get("state", state) == state
        and (params.get("merchant_id") or merchant_id) == merchant_id
        and (params.get("connection_id") or connection_id) == connection_id
    ]
    seen, _ = await every_page(client, {**params, "limit": 2})
    assert seen == expected


async def test_items_are_those_of_a_connections_list(client: httpx.AsyncClient, shops: Shops) -> None:
    everywhere = (await client.get("/v1/orders", params={"limit": 200}, headers=OPERATOR)).json()["items"]
    of_a1 = (await client.get(f"/v1/connections/{shops.a1}/orders", headers=OPERATOR)).json()["items"]
    assert of_a1
    by_purchase = {item["purchase_id"]: item for item in everywhere}
    assert [by_purchase[item["purchase_id"]] for item in of_a1] == of_a1
    assert [(item["item_id"], item["sku"]) for item in by_purchase["100"]["items"]] == [("i100", "SKU-1")]


@pytest.mark.parametrize("query", ["", "?state=failed", "?state=teleported", "?limit=0", "?cursor=%%%"])
async def test_a_merchant_is_refused_whatever_it_asks(client: httpx.AsyncClient, shops: Shops, query: str) -> None:
    answer = await client.get(f"/v1/orders{query}", headers=A)
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert (set(error), error["code"]) == ({"code", "message", "details"}, "forbidden")
    assert (await client.get(f"/v1/orders{query}")).status_code == 401


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("state=teleported", 422, "validation_error"),
        ("state=FAILED", 422, "validation_error"),
        ("limit=201", 422, "validation_error"),
        ("limit=0", 422, "validation_error"),
        ("limit=ten", 422, "validation_error"),
        ("merchant_id=" + "m" * 129, 422, "validation_error"),
        ("connection_id=" + "c" * 37, 422, "validation_error"),
        ("cursor=bm90LWEtY3Vyc29y", 400, "invalid_cursor"),
        ("cursor=%%%", 400, "invalid_cursor"),
        ("merchant_id=%00", 422, "validation_error"),
    ],
)
async def test_bad_parameters(client: httpx.AsyncClient, shops: Shops, query: str, status: int, code: str) -> None:
    answer = await client.get(f"/v1/orders?{query}", headers=OPERATOR)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


async def test_a_cursor_of_a_connections_list_goes_on_from_the_same_place(
    client: httpx.AsyncClient, shops: Shops
) -> None:
    page = (await client.get(f"/v1/connections/{shops.a2}/orders?limit=2", headers=OPERATOR)).json()
    rest, _ = await every_page(client, {"connection_id": shops.a2, "cursor": page["next_cursor"]})
    assert [item["purchase_id"] for item in page["items"]] + rest == [
        purchase_id for purchase_id, connection_id, *_ in shops.orders if connection_id == shops.a2
    ]
