"""SKU mappings on the stock side, end to end: Cubyn events reach every Rakuten SKU that follows their SKU,
a new mapping pushes the quantity it brings, and a full sync compares through the mappings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.settings import Settings
from tests.e2e.world import World, wait_for, world
from tests.stock.helpers import (
    connect,
    send_events,
    set_rakuten_inventory,
    stock_items,
    stock_settings,
    wait_pushed,
    wait_sync,
)

pytestmark = pytest.mark.usefixtures("sessions")


async def _map(w: World, patch: dict[str, str | None]) -> None:
    answer = await w.api.patch(f"/v1/connections/{w.connection_id}/sku-mappings", json=patch, headers=w.headers)
    assert answer.status_code == 200, answer.text


async def test_a_cubyn_event_reaches_every_rakuten_sku_mapped_to_it_and_a_new_mapping_pushes_its_quantity(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings)) as w:
        await set_rakuten_inventory(w, {"R-1": 0, "R-2": 0, "X": 0, "Y": 0, "R-3": 0})
        _, secret = await connect(w, cubyn_products={"X": 7, "Y": 3, "R-3": 2})
        await _map(w, {"R-1": "X", "R-2": "X", "Y": "X"})
        now = utcnow()
        await send_events(w, secret, [("X", 7, now), ("Y", 3, now), ("R-3", 2, now)])
        # Y is sold as X: Cubyn's own Y changes nothing on Rakuten.
        await wait_pushed(w, {"R-1": 7, "R-2": 7, "X": 7, "Y": 7, "R-3": 2})
        items = await stock_items(w)
        assert {s: i["cubyn_sku"] for s, i in items.items()} == {
            "R-1": "X",
            "R-2": "X",
            "X": "X",
            "Y": "X",
            "R-3": "R-3",
        }

        # Remapped, R-3 takes X's quantity at once; unmapped, Y follows its own spelling again (a full sync
        # is queued to read Y's quantity, which no SKU followed).
        await _map(w, {"R-3": "X", "Y": None})
        await wait_pushed(w, {"R-3": 7, "Y": 3}, seconds=90)
        await send_events(w, secret, [("X", 4, now + timedelta(seconds=1))])
        await wait_pushed(w, {"R-1": 4, "R-2": 4, "X": 4, "R-3": 4, "Y": 3})


async def test_a_full_sync_compares_through_the_mappings_and_suggests_the_obvious_ones(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings)) as w:
        await set_rakuten_inventory(w, {"R-1": 1, "OWN": 1, "abc-001": 0, "Shirt M": 0, "LONELY": 0})
        connection_id, _ = await connect(
            w, cubyn_products={"X": 5, "OWN": 2, "ABC1": 6, "shirt_m": 1, "shirt-m": 1, "ONLY-CUBYN": 3}
        )
        # Nothing follows X yet: mapping R-1 to it queues a full sync (asking for another one is refused).
        await _map(w, {"R-1": "X"})
        answer = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        assert answer.status_code == 409, answer.text
        result = await wait_sync(w, answer.json()["error"]["details"]["id"])
        assert result["trigger"] == "mapping"
        assert result["status"] == "succeeded", result
        assert result["progress"]["compared"] == 2
        assert result["only_on_rakuten"] == ["LONELY", "Shirt M", "abc-001"]
        # X is followed by R-1: not one-sided even though Rakuten has no "X".
        assert result["only_on_cubyn"] == ["ABC1", "ONLY-CUBYN", "shirt-m", "shirt_m"]
        # "Shirt M" could be either shirt: no suggestion for it.
        assert result["suggested_mappings"] == [
            {"rakuten_sku": "abc-001", "cubyn_sku": "ABC1", "rule": "leading_zeros"}
        ]
        await wait_pushed(w, {"R-1": 5, "OWN": 2})

        # Accepting the suggestion with one patch: the next sync finds the pair and pushes its quantity.
        await _map(w, {s["rakuten_sku"]: s["cubyn_sku"] for s in result["suggested_mappings"]})

        async def synced() -> bool:
            return (await stock_items(w)).get("abc-001", {}).get("pushed_quantity") == 6

        await wait_for(synced, 90, "abc-001 pushed with ABC1's quantity", state=lambda: stock_items(w))
