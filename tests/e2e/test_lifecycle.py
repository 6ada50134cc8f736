"""End to end with real processes: every shipping type of the mapping table, and the skips."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.settings import Settings
from tests.e2e.processes import system
from tests.e2e.world import ADDRESS, sale, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("sessions")]

IMPORTED = {
    # Rakuten shipping type -> (Cubyn delivery mode, signed)
    "Normal": ("STANDARD", False),
    "Suivi": ("STANDARD", False),
    "Recommandé": ("STANDARD", True),
    "Express": ("EXPRESS", False),
    "Point relais Mondial Relay": ("RELAY", False),
}
SKIPPED = {
    "So Colissimo": "So Colissimo",
    "Chronopost": "Chronopost",
    "Retrait chez le vendeur": "Retrait chez le vendeur",
    "Shop2Shop by Chronopost": "Shop2Shop",
}


async def test_every_shipping_type_from_sale_to_tracking(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with system(settings, tmp_path) as (w, _):
        mapped = await w.add_sales(*(sale(kind, ["SKU-1", "SKU-2", "SKU-2"]) for kind in IMPORTED))
        unmapped = await w.add_sales(*(sale(kind, ["SKU-3"]) for kind in SKIPPED))
        empty_sku, nego = await w.add_sales(
            sale("Normal", ["SKU-1", ""]),
            sale("Suivi", ["SKU-1"], items=[{"sku": "SKU-1", "is_nego": True}]),
        )
        await w.connect()

        async def settled() -> bool:
            orders = await w.orders()
            done = [o for o in orders if o["state"] in ("shipped", "skipped")]
            return len(orders) == len(done) == len(IMPORTED) + len(SKIPPED) + 2

        await wait_for(settled, seconds=60, what="every order shipped or skipped")
        orders = {o["purchase_id"]: o for o in await w.orders()}
        parcels = {p["parcel"]["orderRef"]: p for p in await w.parcels()}
        assert len(parcels) == len(IMPORTED)
        for created, (mode, signed) in zip(mapped, IMPORTED.values(), strict=True):
            order = orders[created["purchase_id"]]
            parcel = parcels[f"RAKUTEN-{created['purchase_id']}"]
            assert (order["state"], order["delivery_mode"], order["shipping_type"]) == (
                "shipped",
                mode,
                created["shipping_type"],
            )
            assert parcel["parcel"]["deliverySigned"] is signed
            # Items summed per SKU: one parcel line per SKU.
            assert sorted((i["sku"], i["quantity"]) for i in parcel["request"]["items"]) == [
                ("SKU-1", 1),
                ("SKU-2", 2),
            ]
            assert parcel["request"]["address"]["country"] == "FR"  # FX on Rakuten
            if mode == "RELAY":
                assert parcel["request"]["relayPoint"]["id"] == "084735"
                assert parcel["request"]["lastName"] == ADDRESS["lastname"]
            assert all(i["accepted_at"] and i["tracking_pushed_at"] for i in order["items"])
        for created, label in zip(unmapped, SKIPPED.values(), strict=True):
            order = orders[created["purchase_id"]]
            assert order["state"] == "skipped"
            assert label in order["reason"]
        assert "SKU" in orders[empty_sku["purchase_id"]]["reason"]
        assert "negotiation" in orders[nego["purchase_id"]]["reason"].lower()
        # Each item accepted once and tracked once; nothing for skipped sales.
        accepted = [c["params"]["itemid"] for c in await w.calls("acceptsale")]
        assert sorted(accepted) == sorted(set(accepted))
        assert len(accepted) == 3 * len(IMPORTED)
        items = {i["item_id"]: i for s in await w.rakuten_sales() for i in s["items"]}
        for created in [*unmapped, empty_sku, nego]:
            assert all(items[i["item_id"]]["status"] != "ACCEPTED" for i in created["items"])
        connection = (await w.api.get(f"/v1/connections/{w.connection_id}", headers=w.headers)).json()
        assert connection["orders"]["shipped"] == len(IMPORTED)
        assert connection["orders"]["skipped"] == len(SKIPPED) + 2
        assert connection["last_import_at"] is not None
