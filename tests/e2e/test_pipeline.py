"""The order pipeline over real HTTP against both sandboxes, with a real arq worker on Redis."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.settings import Settings
from tests.e2e.world import sale, wait_for, world

pytestmark = pytest.mark.usefixtures("sessions")


async def test_orders_go_from_rakuten_to_shipped(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(settings) as w:
        created = await w.add_sales(
            sale("Normal", ["SKU-1", "SKU-1", "SKU-2"]),
            sale("Point relais Mondial Relay", ["SKU-3"]),
            sale("So Colissimo", ["SKU-4"]),
        )
        await w.connect()

        async def settled() -> bool:
            orders = await w.orders()
            return len(orders) == 3 and all(o["state"] in ("shipped", "skipped") for o in orders)

        await wait_for(settled, what="orders shipped")
        orders = {o["purchase_id"]: o for o in await w.orders()}
        normal, relay, colissimo = (orders[s["purchase_id"]] for s in created)
        assert (normal["state"], normal["delivery_mode"]) == ("shipped", "STANDARD")
        assert (relay["state"], relay["delivery_mode"]) == ("shipped", "RELAY")
        assert colissimo["state"] == "skipped"
        assert "So Colissimo" in colissimo["reason"]
        assert normal["tracking_id"] == f"CUB{normal['parcel_id']}"
        parcels = await w.parcels()
        assert len(parcels) == 2
        assert sorted(p["parcel"]["orderRef"] for p in parcels) == sorted(
            f"RAKUTEN-{s['purchase_id']}" for s in created[:2]
        )
        accepts = await w.calls("acceptsale")
        assert len(accepts) == 4  # one per item (unit), once each
        assert all(c["params"]["shippingfromcountry"] == "249" for c in accepts)
        rakuten_items = {i["item_id"]: i for s in await w.rakuten_sales() for i in s["items"]}
        for order in (normal, relay):
            for item in order["items"]:
                assert rakuten_items[item["item_id"]]["status"] == "ACCEPTED"
                tracking = rakuten_items[item["item_id"]]["tracking"]
                assert (tracking["transporter"], tracking["number"]) == ("Cubyn", order["tracking_id"])
                assert tracking["url"] == f"https://www.track.cubyn.com/{order['tracking_id']}"
        detail = await w.order(normal["purchase_id"])
        kinds = [e["kind"] for e in detail["events"]]
        assert kinds[0] == "received"
        assert "imported" in kinds
        assert "item_accepted" in kinds
        assert "tracking_pushed" in kinds


async def test_nothing_goes_to_rakuten_while_paused_and_everything_does_once_resumed(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    manual = LifecycleDelays(validate=None, pick=None, pack=None, ship=None)
    async with world(settings, delays=manual) as w:
        [created] = await w.add_sales(sale("Normal", ["SKU-1"]))
        await w.connect()
        url = f"/v1/connections/{w.connection_id}"

        async def parcel_of() -> str | None:
            orders = await w.orders()
            return orders[0]["parcel_id"] if orders else None

        await wait_for(lambda: _truthy(parcel_of()), what="the parcel")
        parcel = await parcel_of()
        assert (await w.api.patch(url, json={"paused": True}, headers=w.headers)).json()["status"] == "paused"
        await w.cubyn.post(f"/_sandbox/parcels/{parcel}/advance")  # validated: would be accepted

        async def waiting() -> bool:
            events = (await w.order(created["purchase_id"]))["events"]
            return any(e["kind"] == "waiting" for e in events)

        await wait_for(waiting, what="the action to wait")
        assert not await w.calls("acceptsale")
        assert (await w.order(created["purchase_id"]))["state"] == "imported"
        assert (await w.api.patch(url, json={"paused": False}, headers=w.headers)).json()["status"] == "active"

        async def accepted() -> bool:
            return bool((await w.order(created["purchase_id"]))["state"] == "accepted")

        await wait_for(accepted, seconds=45, what="the acceptance once resumed")
        assert len(await w.calls("acceptsale")) == 1


async def _truthy(value: Awaitable[object]) -> bool:
    return bool(await value)
