"""Rule 1 of docs/architecture.md with real processes: one parcel per purchase whatever races, kills and Redis
losses happen."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.settings import Settings
from tests.e2e.processes import system
from tests.e2e.world import World, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("sessions")]

ROUTINE = {
    "shipping_types": ["Normal", "Suivi", "Express", "Point relais Mondial Relay"],
    "empty_sku_rate": 0,
    "nego_rate": 0,
}


async def generate(w: World, count: int, seed: int = 7) -> list[dict[str, Any]]:
    body = {"count": count, "seed": seed, "skus": ["SKU-1", "SKU-2", "SKU-3"], "max_age_hours": 2, **ROUTINE}
    response = await w.rakuten.post(f"/_sandbox/sellers/{w.login}/sales/generate", json=body)
    assert response.status_code in (200, 201), response.text
    sales: list[dict[str, Any]] = response.json()["sales"]
    return sales


def assert_one_parcel_per_purchase(parcels: list[dict[str, Any]], purchase_ids: set[str]) -> None:
    refs = collections.Counter(p["parcel"]["orderRef"] for p in parcels)
    assert not [ref for ref, n in refs.items() if n > 1], "a purchase got two parcels"
    assert set(refs) == {f"RAKUTEN-{p}" for p in purchase_ids}


async def assert_each_item_accepted_once(w: World) -> None:
    # Calls Rakuten carried out; a retry after a lost answer is refused as "already accepted" and not counted.
    calls = await w.calls("acceptsale")
    accepted = collections.Counter(c["params"]["itemid"] for c in calls if c["result"] == "ok")
    assert not [item for item, n in accepted.items() if n > 1], "an item was accepted twice"


async def states(w: World) -> object:
    """Counts per state, and the timeline of a few orders that are not shipped (for the failure message)."""
    orders = await w.orders()
    stragglers = [o["purchase_id"] for o in orders if o["state"] not in ("shipped", "skipped")][:3]
    details = [await w.order(p) for p in stragglers]
    return {
        "states": dict(collections.Counter(o["state"] for o in orders)),
        "stragglers": [
            {k: d[k] for k in ("purchase_id", "state", "reason", "parcel_status", "last_error", "items", "events")}
            for d in details
        ],
    }


async def all_in(w: World, states: set[str], count: int) -> bool:
    orders = await w.orders()
    return len(orders) == count and all(o["state"] in states for o in orders)


async def test_five_triggers_and_two_racing_workers_make_one_parcel_per_purchase(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with system(settings, tmp_path, workers=2, stock=10_000) as (w, _):
        sales = await generate(w, 60)
        await w.connect()
        url = f"/v1/connections/{w.connection_id}/imports"
        answers = await asyncio.gather(*(w.api.post(url, headers=w.headers) for _ in range(5)))
        assert [a.status_code for a in answers] == [202] * 5
        await wait_for(
            lambda: all_in(w, {"shipped"}, len(sales)),
            seconds=90,
            what="every order shipped",
            state=lambda: states(w),
        )
        assert_one_parcel_per_purchase(await w.parcels(), {s["purchase_id"] for s in sales})
        await assert_each_item_accepted_once(w)
        received = await w.cubyn.get("/_sandbox/received")
        creates = list(received.json()["received"])
        assert {r["idempotency_key"] for r in creates} == {f"RAKUTEN-{s['purchase_id']}" for s in sales}


async def test_worker_killed_mid_import_of_200_sales_then_restarted(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    # Cubyn answers slowly enough for the kill to land in the middle of the import.
    async with system(settings, tmp_path, workers=1, stock=10_000) as (w, processes):
        sales = await generate(w, 200, seed=11)
        await w.cubyn.put("/_sandbox/faults", json={"latency_seconds": 0.04})
        await w.connect()

        async def some_parcels() -> bool:
            return len(await w.parcels()) >= 30

        await wait_for(some_parcels, seconds=60, what="the import to be under way")
        [worker] = list(processes.running)[1:]
        processes.kill(worker)
        assert len(await w.parcels()) < 200, "the import finished before the kill"
        await w.cubyn.delete("/_sandbox/faults")
        processes.start_worker()
        # A bound for a loaded machine only: the restarted worker creates the parcels left, and each of the
        # 200 then needs its validation webhook and its acceptance.
        await wait_for(
            lambda: all_in(w, {"accepted", "shipped"}, 200),
            seconds=240,
            what="200 orders accepted",
            state=lambda: states(w),
        )
        assert_one_parcel_per_purchase(await w.parcels(), {s["purchase_id"] for s in sales})
        await assert_each_item_accepted_once(w)


async def test_redis_flushed_mid_lifecycle_the_sweeps_finish_every_order(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    slow = LifecycleDelays(validate=0.5, pick=1.0, pack=1.0, ship=1.0)
    async with system(settings, tmp_path, delays=slow, workers=1, stock=10_000) as (w, _):
        sales = await generate(w, 40, seed=13)
        await w.connect()

        async def half_way() -> bool:
            states = [o["state"] for o in await w.orders()]
            return len(states) == 40 and "accepted" in states

        await wait_for(half_way, seconds=60, what="orders in flight")
        redis = Redis.from_url(settings.redis_url)
        try:
            await redis.flushdb()
        finally:
            await redis.aclose()
        await wait_for(
            lambda: all_in(w, {"shipped"}, len(sales)), seconds=120, what="every order shipped after the flush"
        )
        assert_one_parcel_per_purchase(await w.parcels(), {s["purchase_id"] for s in sales})
        await assert_each_item_accepted_once(w)
