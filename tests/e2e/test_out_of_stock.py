"""An order Cubyn has no stock for, refused on Rakuten once the merchant's delay has passed: the sweep
acts without any news from Cubyn (its parcel stays CREATED with its stock check FAILED), over real HTTP
against both sandboxes with a real arq worker; hours pass on the moving clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.orders import scheduler
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from tests.e2e.world import World, sale, wait_for, world
from tests.moving_clock import MovingClock, clock

__all__ = ["clock"]


async def _sweep(w: World) -> None:
    """One tick of the worker's sweep (it runs every 15 minutes of the real clock)."""
    rt = Runtime.start(w.settings)
    try:
        await scheduler.sweep(rt)
    finally:
        await rt.close()


async def _parcel(w: World, parcel_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await w.cubyn.get(f"/_sandbox/parcels/{parcel_id}")).json()["parcel"]
    return answer


async def test_an_order_out_of_stock_is_refused_after_the_merchants_delay(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], clock: MovingClock
) -> None:
    async with world(settings, stock=0) as w:  # Cubyn has none of the products
        await w.connect(stock_sync_enabled=False)
        async with sessions() as session:
            await session.execute(update(Connection).values(refuse_out_of_stock_after_hours=12))
            await session.commit()
        [created] = await w.add_sales(sale("Normal", ["SKU-1", "SKU-2"]))
        purchase_id = created["purchase_id"]
        answer = await w.api.post(f"/v1/connections/{w.connection_id}/imports", headers=w.headers)
        assert answer.status_code == 202

        async def waits_for_stock() -> bool:
            order = await w.order(purchase_id) if await w.orders() else None
            return bool(order and order["state"] == "needs_attention")

        await wait_for(waits_for_stock, what="the order to wait for stock")
        order = await w.order(purchase_id)
        assert "refused on Rakuten 12 hours after Cubyn's stock check failed" in order["reason"]
        parcel_id = order["parcel_id"]
        assert (await _parcel(w, parcel_id))["validations"]["stock"]["error"] == "STOCK_CHECK_FAILED"

        clock.advance(timedelta(hours=11, minutes=50))
        await _sweep(w)
        order = await w.order(purchase_id)
        assert order["state"] == "needs_attention"  # not yet
        assert (await _parcel(w, parcel_id))["status"] == "CREATED"
        assert not await w.calls("refusesale")

        clock.advance(timedelta(minutes=11))
        await _sweep(w)  # Cubyn said nothing more: the sweep acts on its own

        async def refused() -> bool:
            return bool((await w.order(purchase_id))["state"] == "cancelled")

        await wait_for(refused, what="the order refused")
        order = await w.order(purchase_id)
        assert order["reason"] == (
            "Cubyn had no stock for this order for 12 hours: the Cubyn parcel was cancelled and the sale "
            "refused on Rakuten."
        )
        parcel = await _parcel(w, parcel_id)
        assert parcel["status"] == "CANCELLED"
        statuses = {i["item_id"]: i["status"] for s in await w.rakuten_sales() for i in s["items"]}
        assert {statuses[item["item_id"]] for item in order["items"]} == {"REFUSED"}
        refusals = [c["params"]["itemid"] for c in await w.calls("refusesale")]
        assert sorted(refusals) == sorted(item["item_id"] for item in order["items"])  # once each
        assert not await w.calls("acceptsale")
        kinds = [e["kind"] for e in order["events"]]
        assert kinds.count("out_of_stock") == 1
        assert kinds.count("item_refused") == 2
        assert kinds[-1] == "cancelled"
