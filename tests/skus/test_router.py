"""The SKU mapping routes over the ASGI app: listing, the merge patch and its validation, isolation."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.skus.models import SkuMapping
from rakuten_connector.stock.models import StockItem, StockStatus, StockSync, SyncStatus
from rakuten_connector.stock.syncs import finish
from tests.conftest import auth_headers
from tests.upstream_fakes import Upstreams, connection_body

pytestmark = pytest.mark.usefixtures("upstreams")

A = auth_headers("merchant-a")
B = auth_headers("merchant-b")


@pytest.fixture
async def connection_id(client: httpx.AsyncClient, upstreams: Upstreams) -> str:
    response = await client.post("/v1/connections", json=connection_body(), headers=A)
    assert response.status_code == 201, response.text
    cid: str = response.json()["id"]
    return cid


def url(connection_id: str) -> str:
    return f"/v1/connections/{connection_id}/sku-mappings"


async def _mappings(client: httpx.AsyncClient, connection_id: str, limit: int = 500) -> dict[str, str]:
    found: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url(connection_id), params=params, headers=A)).json()
        found.update({m["rakuten_sku"]: m["cubyn_sku"] for m in page["items"]})
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def test_a_merge_patch_maps_remaps_and_deletes_and_the_list_pages_through_them(
    client: httpx.AsyncClient, connection_id: str
) -> None:
    patch = {f"R-{n:03d}": f"C-{n % 7}" for n in range(25)} | {"r-000": "C-0"}
    answer = await client.patch(url(connection_id), json=patch, headers=A)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"upserted": 26, "deleted": 0}
    assert await _mappings(client, connection_id, limit=4) == patch  # case-sensitive: r-000 is its own key

    first = (await client.get(url(connection_id), params={"limit": 2}, headers=A)).json()
    assert [m["rakuten_sku"] for m in first["items"]] == ["R-000", "R-001"]
    assert set(first["items"][0]) == {"rakuten_sku", "cubyn_sku", "updated_at"}

    answer = await client.patch(url(connection_id), json={"R-000": "C-9", "R-001": None, "NEVER": None}, headers=A)
    assert answer.json() == {"upserted": 1, "deleted": 1}
    mappings = await _mappings(client, connection_id)
    assert (mappings["R-000"], "R-001" in mappings, len(mappings)) == ("C-9", False, 25)


@pytest.mark.parametrize(
    "body",
    [
        [["R", "C"]],
        "R",
        {"R": 1},
        {"R": ""},
        {"": "C"},
        {"R": "C" * 256},
        {"R" * 256: "C"},
        {"R\tX": "C"},
        {"R": "C\x7f"},
        {"R": "C\u0085"},
        {"R": {"sku": "C"}},
        {"R": " "},
        {"R": " C"},
        {"R": "C\u00a0"},
    ],
)
async def test_a_bad_patch_is_refused_whole_and_changes_nothing(
    client: httpx.AsyncClient, connection_id: str, body: object, sessions: async_sessionmaker[AsyncSession]
) -> None:
    good = {"GOOD": "C"}
    payload = body | good if isinstance(body, dict) else body
    answer = await client.patch(url(connection_id), json=payload, headers=A)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_error"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SkuMapping)) == 0


async def test_nul_characters_too_many_keys_and_broken_json_are_refused(
    client: httpx.AsyncClient, connection_id: str
) -> None:
    json_headers = {**A, "content-type": "application/json"}
    nul = await client.patch(url(connection_id), content=b'{"R\\u0000": "C"}', headers=json_headers)
    assert nul.status_code == 422
    huge = await client.patch(url(connection_id), json={"K" * 5000: "C"}, headers=A)
    assert huge.status_code == 422
    assert max(len(part) for d in huge.json()["error"]["details"] for part in d["loc"]) <= 64
    many = {f"R-{n}": "C" for n in range(10_001)}
    assert (await client.patch(url(connection_id), json=many, headers=A)).status_code == 422
    broken = await client.patch(url(connection_id), content=b'{"R": ', headers=json_headers)
    assert broken.status_code == 400
    assert (await client.patch(url(connection_id), json={}, headers=A)).json() == {"upserted": 0, "deleted": 0}
    merge_patch = {**A, "content-type": "application/merge-patch+json"}
    answer = await client.patch(url(connection_id), content=b'{"R": null}', headers=merge_patch)
    assert answer.json() == {"upserted": 0, "deleted": 0}
    assert await _mappings(client, connection_id) == {}


async def test_another_merchants_connection_is_not_found_and_a_disconnected_one_refuses_changes(
    client: httpx.AsyncClient, connection_id: str
) -> None:
    for method in ("GET", "PATCH"):
        answer = await client.request(method, url(connection_id), json={"R": "C"}, headers=B)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    assert (await client.get(url("not-a-uuid"), headers=A)).status_code == 404
    assert (await client.delete(f"/v1/connections/{connection_id}", headers=A)).status_code in (200, 204)
    answer = await client.patch(url(connection_id), json={"R": "C"}, headers=A)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "connection_disconnected")
    assert (await client.get(url(connection_id), params={"cursor": "nope"}, headers=A)).status_code == 400


async def test_a_mapping_to_a_known_cubyn_sku_pushes_its_quantity_and_an_unknown_one_queues_a_full_sync(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = utcnow()
    async with sessions() as session:
        session.add_all(
            [
                StockItem(
                    connection_id=connection_id,
                    sku="X",
                    wanted_quantity=7,
                    wanted_at=now,
                    version=1,
                    pushed_version=1,
                    status=StockStatus.PUSHED.value,
                ),
                StockItem(
                    connection_id=connection_id,
                    sku="R-1",
                    wanted_quantity=2,
                    wanted_at=now,
                    version=3,
                    pushed_version=3,
                    status=StockStatus.PUSHED.value,
                ),
            ]
        )
        await session.commit()
    answer = await client.patch(url(connection_id), json={"R-1": "X", "R-2": "X"}, headers=A)
    assert answer.status_code == 200, answer.text
    async with sessions() as session:
        items = {i.sku: i for i in await session.scalars(select(StockItem))}
        assert await session.scalar(select(func.count()).select_from(StockSync)) == 0
    assert {s: (i.cubyn_sku, i.wanted_quantity, i.status) for s, i in items.items()} == {
        "X": (None, 7, "pushed"),
        "R-1": ("X", 7, "pending"),
        "R-2": ("X", 7, "pending"),
    }
    assert items["R-1"].version == 4

    await client.patch(url(connection_id), json={"R-3": "NEW"}, headers=A)
    async with sessions() as session:
        syncs = list(await session.scalars(select(StockSync)))
    assert [(s.trigger, s.status) for s in syncs] == [("mapping", "queued")]
    # A second unknown one while that sync is queued: the queued one will read it.
    assert (await client.patch(url(connection_id), json={"R-4": "NEWER"}, headers=A)).status_code == 200
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(StockSync)) == 1


async def test_a_mapping_changed_while_a_sync_runs_is_read_by_the_sync_that_follows_it(
    client: httpx.AsyncClient, connection_id: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = utcnow()
    async with sessions() as session:
        running = StockSync(
            connection_id=connection_id, status="running", phase="pushing", catalog_read_at=now, next_run_at=now
        )
        session.add(running)
        session.add(StockItem(connection_id=connection_id, sku="R-9", wanted_quantity=1, wanted_at=now, version=1))
        await session.commit()
    assert (await client.patch(url(connection_id), json={"R-9": "UNSEEN"}, headers=A)).status_code == 200
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(StockSync)) == 1
        sync = await session.get_one(StockSync, running.id)
        await finish(session, sync, SyncStatus.SUCCEEDED)
    async with sessions() as session:
        syncs = {s.id: (s.trigger, s.status) for s in await session.scalars(select(StockSync))}
    assert syncs.pop(running.id) == ("manual", "succeeded")
    assert list(syncs.values()) == [("mapping", "queued")]
