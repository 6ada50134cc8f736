"""The embedded default under load: the demo's shape (API, worker and both sandboxes in one process, on
SQLite) through a minute of sales and warehouse events with a full stock sync in the middle. Every order
goes through, stock ends right, and SQLite never answers "database is locked" nor a job times out."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from rich.console import Console

from rakuten_connector.demo import run
from rakuten_connector.demo.shop import MERCHANT_ID, OUT_OF_STOCK_SKU, SKUS, DemoShop, generate_sales
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.settings import Settings
from tests.conftest import LOGS
from tests.waiting import wait_until

BURST_SECONDS = 60
QUICK = LifecycleDelays(validate=0.3, pick=0.3, pack=0.3, ship=0.3)
DONE_STATES = {"shipped", "skipped"}
pytestmark = pytest.mark.usefixtures("sessions")  # its rows and jobs are cleaned after it, pass or fail


@asynccontextmanager
async def running_demo(settings: Settings) -> AsyncIterator[DemoShop]:
    options = run.DemoOptions(
        port=0,
        sales=30,
        import_interval_seconds=5,
        new_sales_every_seconds=0,  # the burst sells, then stops, so the stock can settle
        delays=QUICK,
        refresh_seconds=0.5,
        seed=11,
    )
    stop = asyncio.Event()
    ready: asyncio.Future[DemoShop] = asyncio.get_running_loop().create_future()
    console = Console(file=io.StringIO(), width=140)
    running = asyncio.create_task(
        run.run_demo(settings, options, stop, console=console, live=False, on_ready=ready)
    )
    try:
        yield await asyncio.wait_for(asyncio.shield(ready), 60)
    finally:
        stop.set()
        await asyncio.wait_for(running, 120)  # every part stops; nothing stays stuck on a lock


async def _burst(
    shop: DemoShop, api: httpx.AsyncClient, rakuten: httpx.AsyncClient, cubyn: httpx.AsyncClient
) -> dict[str, Any]:
    """For a minute: a few sales every second, warehouse movements as fast as the sandbox sends them, a
    full sync half-way."""
    headers = {"Authorization": f"Bearer {shop.token}"}
    rng = random.Random(3)
    loop = asyncio.get_running_loop()
    started, sync, movements, last_sale = loop.time(), None, 0, 0.0
    while loop.time() - started < BURST_SECONDS:
        if loop.time() - last_sale >= 1.0:
            await generate_sales(rakuten, shop.login, rng.randint(1, 3), rng)
            last_sale = loop.time()
        sku = rng.choice(SKUS)
        body = {"sku": sku, "delta": rng.choice([-2, -1, 1, 3]), "movement": "ADJUSTMENT"}
        answer = await cubyn.post(f"/_sandbox/merchants/{MERCHANT_ID}/stock-movements", json=body)
        assert answer.status_code == 200, answer.text
        movements += 1
        if sync is None and loop.time() - started > BURST_SECONDS / 2:
            answer = await api.post(f"/v1/connections/{shop.connection_id}/stock-syncs", headers=headers)
            assert answer.status_code == 202, answer.text
            sync = answer.json()
        await asyncio.sleep(0.02)
    assert sync is not None
    return {"sync": sync, "movements": movements}


async def _orders(api: httpx.AsyncClient, shop: DemoShop) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {shop.token}"}
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = await api.get(f"/v1/connections/{shop.connection_id}/orders", params=params, headers=headers)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return items


def _waits_for_stock(order: dict[str, Any]) -> bool:
    return any(item["sku"] == OUT_OF_STOCK_SKU for item in order["items"])


async def test_a_minute_of_sales_and_stock_events_on_sqlite_goes_through_without_a_lock(
    settings: Settings, test_db_kind: str
) -> None:
    if test_db_kind != "sqlite":
        pytest.skip("the embedded default is SQLite: this is its stress test")
    # Rakuten takes 10 stock files an hour: one every 25 s leaves room for the start-up sync, the burst and
    # a loaded machine's lag behind it, where one every 10 s spent the hour's files before the stock settled.
    tuned = settings.model_copy(update={"stock_push_min_interval_seconds": 25, "stock_report_poll_seconds": 1.0})
    first_line = len(LOGS.lines)
    async with (
        running_demo(tuned) as shop,
        httpx.AsyncClient(base_url=shop.api_url, timeout=60) as api,
        httpx.AsyncClient(base_url=shop.rakuten_url, timeout=60) as rakuten,
        httpx.AsyncClient(base_url=shop.cubyn_url, timeout=60) as cubyn,
    ):
        burst = await _burst(shop, api, rakuten, cubyn)
        sales = (await rakuten.get(f"/_sandbox/sellers/{shop.login}/sales")).json()["sales"]
        sold = {sale["purchase_id"] for sale in sales}

        async def every_order_through() -> bool:
            orders = {order["purchase_id"]: order for order in await _orders(api, shop)}
            return set(orders) >= sold and all(
                order["state"] in DONE_STATES or _waits_for_stock(order)
                for purchase_id, order in orders.items()
                if purchase_id in sold
            )

        async def stuck() -> list[tuple[str, str, str | None, list[str]]]:
            return [
                (order["purchase_id"], order["state"], order["reason"], [i["sku"] for i in order["items"]])
                for order in await _orders(api, shop)
                if order["purchase_id"] in sold and order["state"] not in DONE_STATES
            ][:10]

        await wait_until(every_order_through, seconds=240, what="every order shipped or skipped", state=stuck)
        headers = {"Authorization": f"Bearer {shop.token}"}
        sync_url = f"/v1/connections/{shop.connection_id}/stock-syncs/{burst['sync']['id']}"

        async def sync_ended() -> bool:
            return (await api.get(sync_url, headers=headers)).json()["status"] in ("succeeded", "failed")

        await wait_until(sync_ended, seconds=240, what="the full sync to end")
        assert (await api.get(sync_url, headers=headers)).json()["status"] == "succeeded"

        async def stock_differences() -> dict[str, tuple[int, int | None]]:
            products = (await cubyn.get(f"/_sandbox/merchants/{MERCHANT_ID}/products")).json()
            wanted = {p["sku"]: p["stock"]["available"] for p in products["products"]}
            inventory = (await rakuten.get(f"/_sandbox/sellers/{shop.login}/inventory")).json()
            published = {a["sku"]: a["stock"] for a in inventory["adverts"]}
            return {sku: (n, published.get(sku)) for sku, n in wanted.items() if published.get(sku) != n}

        async def stock_settled() -> bool:
            return not await stock_differences()

        async def stock_state() -> dict[str, Any]:
            seller = (await rakuten.get(f"/_sandbox/sellers/{shop.login}")).json()
            return {"differences": await stock_differences(), "stock files": seller["uploads"]}

        await wait_until(stock_settled, seconds=240, what="Rakuten's stock to equal Cubyn's", state=stock_state)
    logged = "".join(LOGS.lines[first_line:])
    assert burst["movements"] > 500
    assert "database is locked" not in logged
    assert "TimeoutError" not in logged
