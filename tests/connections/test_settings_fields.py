"""The merchant's settings on a connection: stock buffer and cap, out-of-stock refusal delay."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.stock.models import StockItem, StockStatus
from tests.conftest import auth_headers
from tests.upstream_fakes import Upstreams, connection_body

A = auth_headers("merchant-a")


async def test_settings_have_defaults_are_set_at_creation_and_changed_or_cleared_by_patch(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    created = (await client.post("/v1/connections", json=connection_body(), headers=A)).json()
    fields = ("stock_buffer", "stock_max", "refuse_out_of_stock_after_hours")
    assert [created[f] for f in fields] == [0, None, None]
    url = f"/v1/connections/{created['id']}"
    answer = await client.patch(
        url, json={"stock_buffer": 3, "stock_max": 50, "refuse_out_of_stock_after_hours": 24}, headers=A
    )
    assert [answer.json()[f] for f in fields] == [3, 50, 24]
    # Left out: unchanged; null: cleared.
    answer = await client.patch(url, json={"stock_max": None}, headers=A)
    assert [answer.json()[f] for f in fields] == [3, None, 24]
    answer = await client.patch(url, json={"refuse_out_of_stock_after_hours": None, "stock_buffer": 0}, headers=A)
    assert [answer.json()[f] for f in fields] == [0, None, None]
    assert [(await client.get(url, headers=A)).json()[f] for f in fields] == [0, None, None]


@pytest.mark.parametrize(
    "body",
    [
        {"stock_buffer": -1},
        {"stock_buffer": 1.5},
        {"stock_buffer": "2"},
        {"stock_buffer": 10**7},
        {"stock_max": 0},
        {"stock_max": 10**30},
        {"stock_max": True},
        {"refuse_out_of_stock_after_hours": 0},
        {"refuse_out_of_stock_after_hours": 48},
    ],
)
async def test_absurd_settings_are_refused_at_creation_and_in_a_patch(
    client: httpx.AsyncClient, upstreams: Upstreams, body: dict[str, object]
) -> None:
    answer = await client.post("/v1/connections", json=connection_body(**body), headers=A)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "validation_error")
    created = (await client.post("/v1/connections", json=connection_body(), headers=A)).json()
    answer = await client.patch(f"/v1/connections/{created['id']}", json=body, headers=A)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "validation_error")


async def test_a_new_buffer_marks_pending_only_the_skus_whose_published_quantity_changes(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = (await client.post("/v1/connections", json=connection_body(), headers=A)).json()
    now = utcnow()
    async with sessions() as session:
        for sku, quantity in (("ZERO", 0), ("ONE", 1), ("TEN", 10)):
            session.add(
                StockItem(
                    connection_id=created["id"],
                    sku=sku,
                    wanted_quantity=quantity,
                    wanted_at=now,
                    version=2,
                    pushed_version=2,
                    pushed_quantity=quantity,
                    status=StockStatus.PUSHED.value,
                )
            )
        await session.commit()
    answer = await client.patch(f"/v1/connections/{created['id']}", json={"stock_buffer": 1}, headers=A)
    assert answer.status_code == 200
    async with sessions() as session:
        items = {i.sku: (i.status, i.version) for i in await session.scalars(select(StockItem))}
    assert items == {"ZERO": ("pushed", 2), "ONE": ("pending", 3), "TEN": ("pending", 3)}
