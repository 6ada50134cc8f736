""" "Synch my stock" on 100,000 SKUs on both sides: duration and peak memory (target: under 200 MB).

The sandboxes run in a child process; this process runs the API and an arq worker (PostgreSQL by default, a
fresh `rc_bench_*` database dropped at the end, and a free Redis db). Every Cubyn quantity differs from
Rakuten's, so every SKU is pushed: two files of 50,000 SKUs, `--interval` seconds apart (Rakuten's real
limit is 360 s; the sync then takes that much longer, and survives restarts meanwhile). Prints the phases,
the duration, the files and the peak RSS of this process (API + worker).

    .venv/bin/python benchmarks/full_sync.py [--skus 100000] [--interval 5] [--db postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stock_bench import (
    JWT_SECRET,
    PeakRss,
    bench_settings,
    free_redis,
    fresh_database,
    sandboxes_process,
)

from rakuten_connector.kit.auth import Role, issue_token
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.main import create_app
from rakuten_connector.sandbox.serve import free_port, serve
from rakuten_connector.worker import build_worker

MB = 1024 * 1024


async def seed(rakuten: httpx.AsyncClient, cubyn: httpx.AsyncClient, skus: int) -> tuple[str, str, str]:
    login, token, key, merchant = "bench-shop", f"rk-{uuid.uuid4().hex}", f"cub-{uuid.uuid4().hex}", "m-bench"
    assert (await rakuten.post("/_sandbox/sellers", json={"login": login, "token": token})).status_code == 201
    adverts = [{"sku": f"SKU-{n:06d}", "stock": n % 50} for n in range(skus)]
    assert (
        await rakuten.put(f"/_sandbox/sellers/{login}/inventory", json={"adverts": adverts})
    ).status_code == 200
    await rakuten.put("/_sandbox/settings", json={"upload_delay_seconds": 1.0})
    assert (
        await cubyn.post("/_sandbox/applications", json={"merchant_id": merchant, "key": key})
    ).status_code == 201
    products = [{"sku": f"SKU-{n:06d}", "available": n % 50 + 1} for n in range(skus)]
    answer = await cubyn.put(f"/_sandbox/merchants/{merchant}/products", json={"products": products})
    assert answer.status_code == 200
    return login, token, key


async def run(skus: int, interval: int, db: str) -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            sandboxes_process() as (rakuten_url, cubyn_url),
            fresh_database(db, Path(tmp)) as database_url,
            free_redis() as redis_url,
            httpx.AsyncClient(base_url=rakuten_url, timeout=120) as rakuten,
            httpx.AsyncClient(base_url=cubyn_url, timeout=120) as cubyn,
        ):
            login, token, key = await seed(rakuten, cubyn, skus)
            gc.collect()
            port = free_port()
            settings = bench_settings(
                database_url,
                redis_url,
                rakuten_url,
                cubyn_url,
                public_base_url=f"http://127.0.0.1:{port}",
                stock_push_min_interval_seconds=interval,
                stock_report_poll_seconds=1.0,
                upstream_timeout_seconds=60.0,
            )
            headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, 'm-bench', Role.MERCHANT)}"}
            worker = build_worker(settings, handle_signals=False)
            async with (
                serve(create_app(settings), port=port),
                httpx.AsyncClient(base_url=settings.public_base_url, timeout=60) as api,
            ):
                body = {"name": "Bench", "seller_id": login, "token": token, "cubyn_api_key": key}
                created = await api.post("/v1/connections", json=body, headers=headers)
                assert created.status_code == 201, created.text
                cid = created.json()["id"]
                worker_task = asyncio.create_task(worker.async_run())
                try:
                    with PeakRss() as rss:
                        started = time.perf_counter()
                        sync = (await api.post(f"/v1/connections/{cid}/stock-syncs", headers=headers)).json()
                        phase, result = "", {}
                        while True:
                            await asyncio.sleep(0.5)
                            response = await api.get(
                                f"/v1/connections/{cid}/stock-syncs/{sync['id']}", headers=headers
                            )
                            result = response.json()
                            if result["phase"] != phase:
                                phase = result["phase"]
                                print(f"  {time.perf_counter() - started:7.1f} s  {phase:16} {result['progress']}")
                            if result["status"] in ("succeeded", "failed"):
                                break
                        duration = time.perf_counter() - started
                finally:
                    worker_task.cancel()
                    await asyncio.gather(worker_task, return_exceptions=True)
                    await worker.close()
            uploads = (await rakuten.get(f"/_sandbox/sellers/{login}/uploads")).json()["uploads"]
            sample = (
                await rakuten.get(f"/_sandbox/sellers/{login}/inventory", params={"sku": "SKU-000007"})
            ).json()
    print(f"full sync of {skus:,} SKUs on both sides ({db}), interval between files {interval} s")
    print(f"  status {result['status']}, progress {result['progress']}, error {result['error']}")
    print(f"  files sent: {len(uploads)} ({', '.join(str(len(u['lines'])) for u in uploads)} SKUs)")
    print(f"  SKU-000007 on Rakuten after the sync: {sample['adverts'][0]['stock']} (Cubyn: 8)")
    print(f"  duration: {duration:.1f} s (of which {max(0, len(uploads) - 1) * interval} s waiting between files)")
    print(
        f"  peak RSS of the API + worker process: {rss.peak / MB:.0f} MB "
        f"(baseline {rss.baseline / MB:.0f} MB, growth {(rss.peak - rss.baseline) / MB:.0f} MB; target < 200 MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    asyncio.run(run(args.skus, args.interval, args.db))


if __name__ == "__main__":
    main()
