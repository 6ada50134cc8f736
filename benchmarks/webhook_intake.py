"""Webhook intake: pre-signed `stock.updated` and `parcel.updated` requests replayed by wrk, each once.

`rakuten-connector api` (1 process, then `--api-workers` processes) and one worker on PostgreSQL take
`--connections` concurrent wrk connections for `--seconds`; then the bare receiver (`_bare_receiver.py`:
verify the signature, INSERT, answer) takes the same replay. Printed for each: requests/s, p50, p99,
non-2xx answers and the API's CPU per request, then the ratio connector / bare.

Afterwards every event is applied: a closing round sends each SKU its last quantity and each parcel its
shipment, then the benchmark waits until no event is pending, Rakuten's quantities equal the last
`available` of every SKU and every order is shipped.

    .venv/bin/python benchmarks/webhook_intake.py [--shops 20] [--skus 100] [--sales 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import (
    api_process,
    bench_database,
    bench_redis,
    bench_settings,
    cpu_seconds,
    sandbox_process,
    say,
    wait_until,
    worker_process,
)
from _intake import Shop, Wrk, bare_process, closing_events, replay, seed_shops, shop_events
from sqlalchemy import func, select, update

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.queue import JobQueue
from rakuten_connector.orders.jobs import import_now_job
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings
from rakuten_connector.stock.models import StockFile, StockItem
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent

# Stock files every 5 s and reports read every second, so that the check after the replay ends soon.
WORKER_ENV = {
    "STOCK_PUSH_MIN_INTERVAL_SECONDS": "5",
    "STOCK_REPORT_POLL_SECONDS": "1",
    "STOCK_LOST_UPLOAD_HOLD_SECONDS": "5",  # a file whose answer was lost holds the next one for 5 s only
}
API_ENV = {**WORKER_ENV, "LOG_LEVEL": "WARNING"}


async def import_sales(settings: Settings, shop: Shop, sales: int) -> list[tuple[str, int]]:
    """Import the first shop's sales through the worker; returns (purchase id, parcel id) of each order."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    queue = JobQueue(settings.redis_url)
    try:
        async with sessions() as session:
            due = update(Connection).where(Connection.id == shop.connection_id).values(next_import_at=func.now())
            await session.execute(due)
            await session.commit()
        await queue.send([import_now_job(shop.connection_id, utcnow())])

        async def imported() -> bool:
            async with sessions() as session:
                count = await session.scalar(
                    select(func.count(Order.parcel_id)).where(Order.parcel_id.is_not(None))
                )
            return bool(count and count >= sales)

        await wait_until(imported, limit=300)
        async with sessions() as session:
            rows = (await session.execute(select(Order.purchase_id, Order.parcel_id))).all()
    finally:
        await queue.close()
        await engine.dispose()
    return [(purchase_id, int(parcel_id)) for purchase_id, parcel_id in rows]


async def all_applied(
    settings: Settings, rakuten_url: str, shops: list[Shop], final: dict[tuple[int, str], int]
) -> str:
    """Wait until every stored event is applied, Rakuten holds every SKU's last quantity and every order is
    shipped; returns what was checked."""
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:

        async def done() -> bool:
            async with sessions() as session:
                pending = await session.scalar(
                    select(func.count()).where(WebhookEvent.status == EventStatus.PENDING.value)
                )
                unshipped = await session.scalar(
                    select(func.count()).where(Order.state != OrderState.SHIPPED.value)
                )
            if pending or unshipped:
                return False
            async with httpx.AsyncClient(base_url=rakuten_url, timeout=30) as rakuten:
                for index, shop in enumerate(shops):
                    url = f"/_sandbox/sellers/{shop.login}/inventory"
                    inventory = (await rakuten.get(url, params={"limit": len(shop.skus)})).json()["adverts"]
                    if any(advert["stock"] != final[index, advert["sku"]] for advert in inventory):
                        return False
            return True

        await wait_until(done, limit=600, every=1.0)
        async with sessions() as session:
            statuses = dict(
                (
                    await session.execute(select(WebhookEvent.status, func.count()).group_by(WebhookEvent.status))
                ).all()
            )
            items = await session.scalar(select(func.count()).select_from(StockItem))
            files = dict(
                (await session.execute(select(StockFile.status, func.count()).group_by(StockFile.status))).all()
            )
    finally:
        await engine.dispose()
    return (
        f"events by status {statuses}, stock files by status {files}, {items} SKUs at their last quantity on"
        " Rakuten, every order shipped"
    )


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rc-bench-intake-"))
    results: list[tuple[str, Wrk]] = []
    async with bench_database() as database_url, bench_redis() as redis_url:
        with sandbox_process("rakuten") as rakuten_url, sandbox_process("cubyn") as cubyn_url:
            settings = bench_settings(database_url, redis_url, rakuten_url, cubyn_url)
            shops = await seed_shops(settings, rakuten_url, cubyn_url, args.shops, args.skus, args.sales)
            say(
                f"webhook_intake: {args.shops} shops x {args.skus} SKUs, {args.sales} orders, wrk {args.connections}"
                f" connections for {args.seconds} s, PostgreSQL, 1 worker process"
            )
            with worker_process(settings, workdir / "worker.log", WORKER_ENV):
                parcels = await import_sales(settings, shops[0], args.sales)
                rng = random.Random(1)
                clock = datetime.now(UTC) - timedelta(minutes=4)
                for workers in sorted({1, args.api_workers}):
                    port = free_port()
                    with api_process(
                        settings, workdir / f"api-{workers}.log", port, workers=workers, extra_env=API_ENV
                    ) as api:
                        events, clock = shop_events(shops, parcels, args.requests, rng, clock)
                        before = cpu_seconds(api.pid)
                        result = await replay(f"http://127.0.0.1:{port}", events, args, workdir)
                        result.cpu = cpu_seconds(api.pid) - before if workers == 1 else None
                        results.append((f"connector, {workers} API process{'es' if workers > 1 else ''}", result))
                        final, closing = closing_events(shops, parcels, rng, clock)
                        await replay_closing(f"http://127.0.0.1:{port}", closing)
                    checked = await all_applied(settings, rakuten_url, shops, final)
            secrets = {shop.connection_id: shop.webhook_secret for shop in shops}
            with bare_process(database_url, secrets, workdir) as (bare_url, bare_pid):
                events, clock = shop_events(shops, parcels, args.requests, rng, clock)
                before = cpu_seconds(bare_pid)
                result = await replay(bare_url, events, args, workdir)
                result.cpu = cpu_seconds(bare_pid) - before
                results.append(("bare receiver", result))
    report(results, checked)


async def replay_closing(api_url: str, closing: list[tuple[str, dict[str, str], bytes]]) -> None:
    """The closing round, 8 at a time; each must be stored (2xx)."""
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as http:

        async def send(path: str, headers: dict[str, str], body: bytes) -> None:
            async with gate:
                answer = await http.post(path, content=body, headers=headers)
                if answer.status_code != 200:
                    raise RuntimeError(f"closing event answered {answer.status_code}: {answer.text[:200]}")

        await asyncio.gather(*(send(*event) for event in closing))


def report(results: list[tuple[str, Wrk]], checked: str) -> None:
    for name, result in results:
        cpu = (
            f", CPU {result.cpu / result.requests * 1000:.2f} ms/request" if result.cpu and result.requests else ""
        )
        say(
            f"  {name:32} {result.rate:8.0f} req/s  p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms"
            f"  non-2xx {result.non_2xx}  socket errors {result.socket_errors}{cpu}"
        )
    bare = results[-1][1]
    for name, result in results[:-1]:
        say(f"  ratio {name} / bare: {result.rate / bare.rate:.2f}")
    say(f"  afterwards: {checked}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=20)
    parser.add_argument("--skus", type=int, default=100)
    parser.add_argument("--sales", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=80_000, help="pre-signed requests per replay")
    parser.add_argument("--api-workers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
