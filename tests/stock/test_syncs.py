""" "Synch my stock with Rakuten" end to end: export and catalogue read from the sandboxes, the differing
quantities pushed in files, the one-side SKUs reported."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.service import REFUSED_BY, credentials_refused
from rakuten_connector.settings import Settings
from tests.e2e.world import running_worker, world
from tests.stock.helpers import (
    connect,
    rakuten_stock,
    set_rakuten_inventory,
    stock_items,
    stock_settings,
    uploads,
    wait_sync,
)

pytestmark = pytest.mark.usefixtures("sessions")


async def test_the_full_sync_example(settings: Settings) -> None:
    async with world(stock_settings(settings), worker=False) as w:
        await set_rakuten_inventory(w, {"A": 1, "B": 5, "C": 7})
        connection_id, _ = await connect(w, cubyn_products={"A": 1, "B": 9, "D": 4})
        url = f"/v1/connections/{connection_id}/stock-syncs"
        queued = await w.api.post(url, headers=w.headers)
        assert queued.status_code == 202, queued.text
        assert queued.json()["status"] == "queued"
        # A queued sync counts as running.
        again = await w.api.post(url, headers=w.headers)
        assert (again.status_code, again.json()["error"]["code"]) == (409, "stock_sync_running")
        assert again.json()["error"]["details"] == {"id": queued.json()["id"]}
        unknown = await w.api.post(url, json={"force": True}, headers=w.headers)
        assert unknown.status_code == 422

        async with running_worker(w.settings):
            result = await wait_sync(w, queued.json()["id"])
        assert result["status"] == "succeeded", result
        assert result["progress"] == {
            "rakuten_skus": 3,
            "cubyn_skus": 3,
            "compared": 2,
            "to_update": 1,
            "updated": 1,
        }
        assert (result["only_on_rakuten"], result["only_on_cubyn"]) == (["C"], ["D"])
        assert result["error"] is None
        assert result["finished_at"] is not None
        files = await uploads(w)
        assert [[(line["sku"], line["qty"]) for line in f["lines"]] for f in files] == [[("B", "9")]]
        assert await rakuten_stock(w) == {"A": 1, "B": 9, "C": 7}
        items = await stock_items(w)
        assert {sku: (i["wanted_quantity"], i["status"]) for sku, i in items.items()} == {
            "A": (1, "pushed"),
            "B": (9, "pushed"),
        }
        # The next one may start.
        assert (await w.api.post(url, headers=w.headers)).status_code == 202


async def test_a_large_sync_is_split_into_files_within_the_limits(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings, stock_file_max_skus=3)) as w:
        rakuten = {f"S{n}": 0 for n in range(8)}
        cubyn = {f"S{n}": n + 1 for n in range(7)} | {"S7": 0}
        await set_rakuten_inventory(w, rakuten)
        connection_id, _ = await connect(w, cubyn_products=cubyn)
        answer = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        result = await wait_sync(w, answer.json()["id"])
        assert result["status"] == "succeeded", result
        assert result["progress"]["updated"] == result["progress"]["to_update"] == 7
        assert [len(f["lines"]) for f in await uploads(w)] == [3, 3, 1]
        assert await rakuten_stock(w) == cubyn


async def test_a_sync_of_a_connection_turned_off_meanwhile_ends_failed_with_the_reason(settings: Settings) -> None:
    async with world(stock_settings(settings), worker=False) as w:
        await set_rakuten_inventory(w, {"A": 1})
        connection_id, _ = await connect(w, cubyn_products={"A": 2})
        answer = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        patch = {"stock_sync_enabled": False}
        assert (
            await w.api.patch(f"/v1/connections/{connection_id}", json=patch, headers=w.headers)
        ).status_code == 200
        async with running_worker(w.settings):
            result = await wait_sync(w, answer.json()["id"])
        assert (result["status"], result["error"]) == ("failed", "Stock update is turned off for this connection.")
        assert await uploads(w) == []


async def test_a_sync_of_a_connection_whose_key_was_refused_meanwhile_ends_failed_with_the_connections_reason(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings), worker=False) as w:
        await set_rakuten_inventory(w, {"A": 1})
        connection_id, _ = await connect(w, cubyn_products={"A": 2})
        answer = await w.api.post(f"/v1/connections/{connection_id}/stock-syncs", headers=w.headers)
        async with sessions() as session:
            await credentials_refused(session, await session.get_one(Connection, connection_id), "cubyn")
        async with running_worker(w.settings):
            result = await wait_sync(w, answer.json()["id"])
        # The merchant reads the same words on the sync as on the connection.
        connection = (await w.api.get(f"/v1/connections/{connection_id}", headers=w.headers)).json()
        assert connection["status_reason"] == REFUSED_BY["cubyn"]
        assert (result["status"], result["error"]) == ("failed", REFUSED_BY["cubyn"])
        assert await uploads(w) == []


async def test_stock_sync_routes_answer_404_for_unknown_syncs(settings: Settings) -> None:
    async with world(stock_settings(settings), worker=False) as w:
        connection_id, _ = await connect(w)
        for sync_id in ("00000000-0000-4000-8000-000000000000", "nope", "x" * 300):
            response = await w.api.get(f"/v1/connections/{connection_id}/stock-syncs/{sync_id}", headers=w.headers)
            assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")
