"""A merchant's carrier choice and SKU mapping over real HTTP against both sandboxes, with a real worker: a
So Colissimo sale is skipped, then imported once its delivery mode is chosen, under its Cubyn SKUs."""

from __future__ import annotations

import asyncio
import collections

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.settings import Settings
from rakuten_connector.skus.models import SkuMapping
from tests.e2e.world import ADDRESS, RELAY, World, sale, wait_for, world

pytestmark = pytest.mark.usefixtures("sessions")


async def _state(w: World, purchase_id: str) -> str | None:
    orders = {o["purchase_id"]: o for o in await w.orders()}
    return orders[purchase_id]["state"] if purchase_id in orders else None


async def test_a_so_colissimo_sale_is_imported_once_its_mode_is_chosen(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(settings) as w:
        # A So Colissimo sale carries the buyer's billing address, and here a collection point too.
        colissimo, normal = await w.add_sales(
            sale("So Colissimo", ["RAK-1", "RAK-1", "SKU-2"], relay_point=RELAY), sale("Normal", ["SKU-3"])
        )
        purchase_id = colissimo["purchase_id"]
        await w.connect()

        async def first_import_done() -> bool:
            return (
                await _state(w, purchase_id) == "skipped" and await _state(w, normal["purchase_id"]) == "shipped"
            )

        await wait_for(first_import_done, what="the first import")
        skipped = await w.order(purchase_id)
        assert "So Colissimo" in skipped["reason"]
        table_url = f"/v1/connections/{w.connection_id}/carrier-mappings"
        rows = {r["shipping_type"]: r for r in (await w.api.get(table_url, headers=w.headers)).json()["items"]}
        assert (rows["So Colissimo"]["cubyn"], rows["So Colissimo"]["seen"]) == ("NOT_IMPORTED", True)

        async with sessions() as session:  # the merchant maps its Rakuten SKU to the Cubyn one
            session.add(SkuMapping(connection_id=w.connection_id, rakuten_sku="RAK-1", cubyn_sku="SKU-1"))
            await session.commit()
        answer = await w.api.patch(table_url, json={"so colissimo": "STANDARD"}, headers=w.headers)
        assert answer.status_code == 200, answer.text
        rows = {r["shipping_type"]: r for r in answer.json()["items"]}
        assert (rows["So Colissimo"]["cubyn"], rows["So Colissimo"]["source"]) == ("STANDARD", "connection")

        imports = f"/v1/connections/{w.connection_id}/imports"
        answers = await asyncio.gather(*(w.api.post(imports, headers=w.headers) for _ in range(3)))
        assert [a.status_code for a in answers] == [202] * 3
        await wait_for(lambda: _shipped(w, purchase_id), what="the So Colissimo order shipped")
        polls = len(await w.calls("getnewsales"))
        assert (await w.api.post(imports, headers=w.headers)).status_code == 202

        async def polled_again() -> bool:
            return len(await w.calls("getnewsales")) > polls

        await wait_for(polled_again, what="another import")

        parcels = await w.parcels()
        refs = collections.Counter(p["parcel"]["orderRef"] for p in parcels)
        assert refs == {f"RAKUTEN-{purchase_id}": 1, f"RAKUTEN-{normal['purchase_id']}": 1}
        [request] = [p["request"] for p in parcels if p["parcel"]["orderRef"] == f"RAKUTEN-{purchase_id}"]
        assert (request["deliveryMode"], request["deliverySigned"], request["relayPoint"]) == (
            "STANDARD",
            False,
            None,
        )
        assert (request["address"]["line1"], request["address"]["city"]) == (ADDRESS["address1"], ADDRESS["city"])
        assert request["items"] == [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-2", "quantity": 1}]

        detail = await w.order(purchase_id)
        assert (detail["delivery_mode"], detail["reason"]) == ("STANDARD", None)
        assert sorted((i["sku"], i["cubyn_sku"]) for i in detail["items"]) == [
            ("RAK-1", "SKU-1"),
            ("RAK-1", "SKU-1"),
            ("SKU-2", None),
        ]
        kinds = [e["kind"] for e in detail["events"]]
        assert kinds[0] == "skipped"
        assert kinds.count("received") == 1
        [received] = [e for e in detail["events"] if e["kind"] == "received"]
        assert received["message"].startswith('The delivery mode "So Colissimo" is now chosen: Cubyn STANDARD.')
        assert 'SKU "RAK-1" is sent to Cubyn as "SKU-1" (SKU mapping).' in received["message"]
        accepts = collections.Counter(
            c["params"]["itemid"] for c in await w.calls("acceptsale") if c["result"] == "ok"
        )
        assert set(accepts.values()) == {1}  # every item accepted once
        assert len(accepts) == 4


async def _shipped(w: World, purchase_id: str) -> bool:
    return await _state(w, purchase_id) == "shipped"
