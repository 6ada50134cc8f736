"""A burst of 10,000 signed `stock.updated` webhooks on 1,000 SKUs sent at the API.

The API (uvicorn) and the worker run as their own processes, like in production, on a fresh PostgreSQL
database (`rc_bench_*`, dropped at the end) and a free Redis db; the sandboxes run in a child process.
Prints: accepted events per second and the webhook route's latency (p50, p99), the stock files sent, and
the seconds from the last event to the file that carries it (with `--interval` between files: Rakuten's
real limit is 360 s, which bounds that delay in production; the connector also never sends more than 10
files in an hour, so a short interval on a long burst reaches that cap and the rest waits for the hour).

    .venv/bin/python benchmarks/stock_burst.py [--events 10000] [--skus 1000] [--concurrency 32] [--interval 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stock_bench import JWT_SECRET, bench_settings, free_redis, fresh_database, sandboxes_process

from rakuten_connector.kit.auth import Role, issue_token
from rakuten_connector.sandbox.serve import free_port

PYTHON = sys.executable


def signed(secret: str, sku: str, available: int, at: datetime) -> tuple[str, dict[str, str]]:
    body = json.dumps(
        {
            "type": "stock.updated",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "data": {"sku": sku, "available": available, "movement": "FULFILMENT", "delta": -1},
        }
    )
    webhook_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "content-type": "application/json",
    }
    return body, headers


async def wait_up(url: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError("the API did not start")


async def run(events: int, skus: int, concurrency: int, interval: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            sandboxes_process() as (rakuten_url, cubyn_url),
            fresh_database("postgresql", Path(tmp)) as database_url,
            free_redis() as redis_url,
            httpx.AsyncClient(base_url=rakuten_url, timeout=120) as rakuten,
            httpx.AsyncClient(base_url=cubyn_url, timeout=120) as cubyn,
        ):
            port = free_port()
            settings = bench_settings(
                database_url, redis_url, rakuten_url, cubyn_url, public_base_url=f"http://127.0.0.1:{port}"
            )
            env = {
                **os.environ,
                "APP_ENV": "test",
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEYS": settings.secret_keys.get_secret_value(),
                "AUTH_JWT_SECRET": JWT_SECRET,
                "PUBLIC_BASE_URL": settings.public_base_url,
                "RAKUTEN_BASE_URL": rakuten_url,
                "CUBYN_API_URL": cubyn_url,
                "STOCK_PUSH_MIN_INTERVAL_SECONDS": str(interval),
                "STOCK_REPORT_POLL_SECONDS": "1",
                "STOCK_FULL_SYNC_ENABLED": "false",
                "RATE_LIMITS_ENABLED": "false",  # the burst is the load being measured
                "LOG_LEVEL": "WARNING",
            }
            api_cmd = [
                PYTHON,
                "-m",
                "uvicorn",
                "--factory",
                "rakuten_connector.main:app_factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
            processes = [
                await asyncio.create_subprocess_exec(*api_cmd, env=env),
                await asyncio.create_subprocess_exec(PYTHON, "-m", "rakuten_connector", "worker", env=env),
            ]
            try:
                await wait_up(settings.public_base_url)
                await measure(settings.public_base_url, rakuten, cubyn, events, skus, concurrency, interval)
            finally:
                for process in processes:
                    process.terminate()
                for process in processes:
                    await asyncio.wait_for(process.wait(), 10)


async def measure(
    api_url: str,
    rakuten: httpx.AsyncClient,
    cubyn: httpx.AsyncClient,
    events: int,
    skus: int,
    concurrency: int,
    interval: int,
) -> None:
    login, token, key = "bench-shop", f"rk-{uuid.uuid4().hex}", f"cub-{uuid.uuid4().hex}"
    names = [f"SKU-{n:05d}" for n in range(skus)]
    assert (await rakuten.post("/_sandbox/sellers", json={"login": login, "token": token})).status_code == 201
    adverts = [{"sku": sku, "stock": 0} for sku in names]
    assert (
        await rakuten.put(f"/_sandbox/sellers/{login}/inventory", json={"adverts": adverts})
    ).status_code == 200
    await rakuten.put("/_sandbox/settings", json={"upload_delay_seconds": 1.0})
    assert (await cubyn.post("/_sandbox/applications", json={"merchant_id": "m", "key": key})).status_code == 201
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, 'm', Role.MERCHANT)}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=api_url, timeout=60, limits=limits) as api:
        body = {"name": "Bench", "seller_id": login, "token": token, "cubyn_api_key": key}
        created = (await api.post("/v1/connections", json=body, headers=headers)).json()
        url, secret = f"/v1/webhooks/cubyn/{created['id']}", created["webhook"]["secret"]
        rng = random.Random(1)
        start = datetime.now(UTC) - timedelta(minutes=10)
        plan = [(names[i % skus], rng.randint(0, 100), start + timedelta(milliseconds=i)) for i in range(events)]
        final = {sku: n for sku, n, _ in plan}
        prepared = [signed(secret, *event) for event in plan]
        latencies: list[float] = []
        gate = asyncio.Semaphore(concurrency)
        last_answer = 0.0

        async def send(body: str, event_headers: dict[str, str]) -> None:
            nonlocal last_answer
            async with gate:
                sent = time.perf_counter()
                response = await api.post(url, content=body, headers=event_headers)
                latencies.append(time.perf_counter() - sent)
                assert response.status_code == 200, response.text
                last_answer = time.time()

        began = time.perf_counter()
        await asyncio.gather(*(send(*p) for p in prepared))
        elapsed = time.perf_counter() - began
        last_event_at = datetime.fromtimestamp(last_answer, UTC)
        last_sku, last_qty = plan[-1][0], str(plan[-1][1])
        deadline = time.monotonic() + 240
        carried_at: datetime | None = None
        while time.monotonic() < deadline:
            uploads = (await rakuten.get(f"/_sandbox/sellers/{login}/uploads")).json()["uploads"]
            for upload in uploads:
                received = datetime.fromisoformat(upload["received_at"])
                if received >= last_event_at and {"sku": last_sku, "qty": last_qty} in upload["lines"]:
                    carried_at = received
                    break
            inventory = (await rakuten.get(f"/_sandbox/sellers/{login}/inventory", params={"limit": skus})).json()
            if carried_at and {a["sku"]: a["stock"] for a in inventory["adverts"]} == final:
                break
            await asyncio.sleep(0.5)
    latencies.sort()
    print(
        f"stock burst: {events:,} signed stock.updated webhooks on {skus:,} SKUs, {concurrency} concurrent (PostgreSQL)"
    )
    print(f"  accepted: {len(latencies):,} in {elapsed:.1f} s = {len(latencies) / elapsed:.0f} events/s")
    print(
        f"  webhook route latency: p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )
    print(f"  stock files sent: {len(uploads)} (interval between files: {interval} s)")
    if carried_at is None:
        print("  the last event's file was not seen within 240 s")
    else:
        print(f"  last event -> the file carrying it: {(carried_at - last_event_at).total_seconds():.1f} s")
    ok = {a["sku"]: a["stock"] for a in inventory["adverts"]} == final
    print(f"  Rakuten's final quantities equal the last `available` of every SKU: {ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--skus", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--interval", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.events, args.skus, args.concurrency, args.interval))


if __name__ == "__main__":
    main()
