"""Cancellations both ways: the buyer or Rakuten cancels, or Cubyn cancels the parcel."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.settings import Settings
from tests.e2e.world import World, sale, wait_for, world

MANUAL = LifecycleDelays(validate=None, pick=None, pack=None, ship=None)


async def imported(w: World, *skus: str) -> dict[str, Any]:
    [created] = await w.add_sales(sale("Normal", list(skus)))
    if not w.connection_id:
        await w.connect()
    else:
        assert (
            await w.api.post(f"/v1/connections/{w.connection_id}/imports", headers=w.headers)
        ).status_code == 202

    async def has_parcel() -> bool:
        orders = await w.orders()
        return any(o["purchase_id"] == created["purchase_id"] and o["parcel_id"] for o in orders)

    await wait_for(has_parcel, what="the parcel")
    return await w.order(created["purchase_id"])


async def state_of(w: World, purchase_id: str, state: str) -> bool:
    return bool((await w.order(purchase_id))["state"] == state)


async def rakuten_item(w: World, item_id: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await w.rakuten.get(f"/_sandbox/sellers/{w.login}/items/{item_id}")).json()
    return answer.get("item", answer)


async def parcel_status(w: World, parcel_id: str) -> str:
    answer = (await w.cubyn.get(f"/_sandbox/parcels/{parcel_id}")).json()
    return str(answer["parcel"]["status"])


async def import_now(w: World) -> None:
    assert (await w.api.post(f"/v1/connections/{w.connection_id}/imports", headers=w.headers)).status_code == 202


async def test_buyer_cancels_before_acceptance_the_parcel_is_cancelled(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(settings, delays=MANUAL) as w:
        order = await imported(w, "SKU-1", "SKU-2")
        assert order["state"] == "imported"
        for item in order["items"]:
            answer = await w.rakuten.post(f"/_sandbox/sellers/{w.login}/items/{item['item_id']}/buyer-cancel")
            assert answer.status_code == 200, answer.text
        await import_now(w)  # the sale is gone from getnewsales: its items are read
        await wait_for(lambda: state_of(w, order["purchase_id"], "cancelled"), what="the order cancelled")
        assert await parcel_status(w, order["parcel_id"]) == "CANCELLED"
        detail = await w.order(order["purchase_id"])
        assert "cancelled_on_rakuten" in [e["kind"] for e in detail["events"]]
        assert not await w.calls("acceptsale")


async def test_rakuten_cancels_while_the_warehouse_works_needs_attention(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(settings, delays=MANUAL) as w:
        order = await imported(w, "SKU-1")
        parcel = order["parcel_id"]
        assert (await w.cubyn.post(f"/_sandbox/parcels/{parcel}/advance")).status_code == 200  # validated
        await wait_for(lambda: state_of(w, order["purchase_id"], "accepted"), what="accepted")
        await w.cubyn.post(f"/_sandbox/parcels/{parcel}/status", json={"status": "PICKED"})
        [item] = order["items"]
        await w.rakuten.post(
            f"/_sandbox/sellers/{w.login}/items/{item['item_id']}/status", json={"status": "CANCELLED"}
        )
        async with sessions() as session:  # the getcurrentsales scan is due
            await session.execute(update(Connection).values(last_sales_scan_at=None))
            await session.commit()
        await import_now(w)
        await wait_for(lambda: state_of(w, order["purchase_id"], "needs_attention"), what="needs attention")
        detail = await w.order(order["purchase_id"])
        # Said by the cancellation check or by the PICKED event, whichever reads the cancelled item first.
        assert "cancelled on Rakuten" in detail["reason"]
        assert "already" in detail["reason"]
        assert await parcel_status(w, parcel) == "PICKED"


async def test_cubyn_cancels_before_acceptance_the_items_are_refused(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(settings, delays=MANUAL) as w:
        order = await imported(w, "SKU-1", "SKU-1")
        await w.cubyn.post(f"/_sandbox/parcels/{order['parcel_id']}/status", json={"status": "CANCELLED"})
        await wait_for(lambda: state_of(w, order["purchase_id"], "cancelled"), what="the order cancelled")
        for item in order["items"]:
            assert (await rakuten_item(w, item["item_id"]))["status"] == "REFUSED"
        assert not await w.calls("acceptsale")
        assert not await w.calls("cancelitem")


async def test_cubyn_cancels_after_acceptance_the_items_are_cancelled_with_a_comment(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(settings, delays=MANUAL) as w:
        order = await imported(w, "SKU-2")
        await w.cubyn.post(f"/_sandbox/parcels/{order['parcel_id']}/advance")
        await wait_for(lambda: state_of(w, order["purchase_id"], "accepted"), what="accepted")
        await w.cubyn.post(f"/_sandbox/parcels/{order['parcel_id']}/status", json={"status": "CANCELLED"})
        await wait_for(lambda: state_of(w, order["purchase_id"], "cancelled"), what="the order cancelled")
        [item] = order["items"]
        assert (await rakuten_item(w, item["item_id"]))["status"] == "CANCELLED"
        [call] = await w.calls("cancelitem")
        assert 0 < len(call["params"]["comment"]) <= 400
        assert not await w.calls("refusesale")
