"""Import throughput: one shop with 2,000 waiting sales, sandboxes without latency.

Figures: orders imported per second, from the import trigger until every order has its Cubyn parcel, by one
`rakuten-connector worker` process on PostgreSQL; then a bare script that only makes the same Cubyn calls
(`POST /parcels` with the same bodies and headers, `PARCEL_CONCURRENCY` at a time) against a fresh Cubyn
sandbox, and the ratio between the two: how close the connector gets to the unavoidable cost.

    .venv/bin/python benchmarks/import_throughput.py [--sales 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from _common import (
    MERCHANT_ID,
    bench_database,
    bench_redis,
    bench_settings,
    cpu_seconds,
    insert_connections,
    sandbox_process,
    say,
    wait_until,
    worker_process,
)
from sqlalchemy import func, select, update

from rakuten_connector.clients.cubyn_models import ParcelRequest
from rakuten_connector.connections.models import Connection
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.queue import JobQueue
from rakuten_connector.orders.jobs import import_now_job
from rakuten_connector.orders.models import Order
from rakuten_connector.orders.parcel_creation import PARCEL_CONCURRENCY
from rakuten_connector.settings import Settings

SKUS = [f"SKU-{n:05d}" for n in range(1, 51)]


async def seed(rakuten_url: str, cubyn_url: str, sales: int) -> tuple[str, str, str]:
    login, token, key = f"bench-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex, f"cub-bench-{uuid.uuid4().hex}"
    async with httpx.AsyncClient(timeout=120) as http:
        (
            await http.post(f"{rakuten_url}/_sandbox/sellers", json={"login": login, "token": token})
        ).raise_for_status()
        body = {
            "count": sales,
            "seed": 42,
            "skus": SKUS,
            "shipping_types": ["Normal", "Suivi", "Recommandé", "Express", "Point relais Mondial Relay"],
            "empty_sku_rate": 0,
            "nego_rate": 0,
            "item_status": "TO_CONFIRM",
        }
        (await http.post(f"{rakuten_url}/_sandbox/sellers/{login}/sales/generate", json=body)).raise_for_status()
        await cubyn_application(http, cubyn_url, key)
    return login, token, key


async def cubyn_application(http: httpx.AsyncClient, cubyn_url: str, key: str) -> None:
    answer = await http.post(f"{cubyn_url}/_sandbox/applications", json={"merchant_id": MERCHANT_ID, "key": key})
    answer.raise_for_status()
    products = [{"sku": sku, "available": 1_000_000} for sku in SKUS]
    url = f"{cubyn_url}/_sandbox/merchants/{MERCHANT_ID}/products"
    (await http.put(url, json={"products": products})).raise_for_status()


async def connector_run(settings: Settings, sales: int, workdir: Path) -> tuple[float, float, float, list[str]]:
    """Seconds until every order was recorded, until every order has a parcel, worker CPU seconds meanwhile;
    the parcel bodies sent."""
    login, token, key = await seed(settings.rakuten_base_url, settings.cubyn_api_url, sales)
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    queue = JobQueue(settings.redis_url)
    try:
        [connection_id] = await insert_connections(sessions, settings, [(login, token)], key)
        with worker_process(settings, workdir / "worker-import.log") as worker:
            await asyncio.sleep(1.0)  # let the startup cron jobs pass
            async with sessions() as session:
                await session.execute(
                    update(Connection).where(Connection.id == connection_id).values(next_import_at=func.now())
                )
                await session.commit()
            started, cpu_before = time.monotonic(), cpu_seconds(worker.pid)
            await queue.send([import_now_job(connection_id, utcnow())])
            recorded_at: list[float] = []

            async def done() -> bool:
                async with sessions() as session:
                    orders, parcels = (
                        await session.execute(
                            select(func.count(), func.count(Order.parcel_id)).where(
                                Order.connection_id == connection_id
                            )
                        )
                    ).one()
                if orders >= sales and not recorded_at:
                    recorded_at.append(time.monotonic())
                return bool(parcels >= sales)

            finished = await wait_until(done, limit=600, every=0.05)
            cpu = cpu_seconds(worker.pid) - cpu_before
        async with sessions() as session:
            bodies = list((await session.scalars(select(Order.parcel_request).order_by(Order.imported_at))).all())
    finally:
        await queue.close()
        await engine.dispose()
    recorded = (recorded_at[0] if recorded_at else finished) - started
    return recorded, finished - started, cpu, [b for b in bodies if b]


async def bare_run(cubyn_url: str, bodies: list[str]) -> float:
    """The same POST /parcels, the same concurrency, nothing else."""
    key = f"cub-bare-{uuid.uuid4().hex}"
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await cubyn_application(http, cubyn_url, key)
        payloads = [ParcelRequest.model_validate_json(body).to_json() for body in bodies]
        gate = asyncio.Semaphore(PARCEL_CONCURRENCY)

        async def one(payload: dict[str, object]) -> None:
            async with gate:
                headers = {
                    "X-Application": key,
                    "Accept": "application/json",
                    "Idempotency-Key": str(payload["orderRef"]),
                }
                answer = await http.post(f"{cubyn_url}/parcels", json=payload, headers=headers)
                if answer.status_code != 201:
                    raise RuntimeError(f"bare create answered {answer.status_code}: {answer.text[:200]}")

        started = time.monotonic()
        await asyncio.gather(*(one(p) for p in payloads))
        return time.monotonic() - started


async def main(sales: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rc-bench-import-"))
    async with bench_database() as database_url, bench_redis() as redis_url:
        with sandbox_process("rakuten") as rakuten_url, sandbox_process("cubyn") as cubyn_url:
            settings = bench_settings(database_url, redis_url, rakuten_url, cubyn_url)
            say(f"import_throughput: 1 shop, {sales} waiting sales, no latency, PostgreSQL, 1 worker process")
            recorded, total, cpu, bodies = await connector_run(settings, sales, workdir)
        with sandbox_process("cubyn") as fresh_cubyn:
            bare = await bare_run(fresh_cubyn, bodies)
    say(f"  getnewsales read and {sales} orders recorded: {recorded:6.2f} s")
    say(f"  all {sales} orders with a parcel:           {total:6.2f} s  -> {sales / total:7.1f} orders/s")
    say(
        f"  bare POST /parcels x{len(bodies)} ({PARCEL_CONCURRENCY} at a time): {bare:6.2f} s  -> {len(bodies) / bare:7.1f} parcels/s"
    )
    say(
        f"  connector / bare: {total / bare:.2f}x the unavoidable Cubyn cost (parcel phase alone: {(total - recorded) / bare:.2f}x)"
    )
    say(
        f"  worker CPU meanwhile: {cpu:.1f} s = {cpu / total * 100:.0f}% of one core, {cpu / sales * 1000:.1f} ms per order"
    )
    say(f"  worker log: {workdir / 'worker-import.log'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales", type=int, default=2000)
    asyncio.run(main(parser.parse_args().sales))
