""" "Synch my stock" on 100,000 SKUs on both sides: duration, peak memory, and the bare read beside it.

The sandboxes run in a child process; this process runs the API and an arq worker (PostgreSQL by default, a
fresh `rc_bench_*` database dropped at the end, and a free Redis db). Every Cubyn quantity differs from
Rakuten's, so every SKU is pushed: two files of 50,000 SKUs, `--interval` seconds apart (Rakuten's real
limit is 360 s; the sync then takes that much longer, and survives restarts meanwhile). Prints the phases,
the duration, the files and the peak RSS growth of this process (API + worker); then the bare read: the
same Rakuten export pages and Cubyn catalogue pages (as many at a time as the connector reads them) fetched
with httpx and decoded, nothing stored, and the ratio of the two readings. Targets: the sync within 30 s
plus the waits between files, the ratio at least 0.5, the RSS growth at most 50 MB.

    .venv/bin/python benchmarks/full_sync.py [--skus 100000] [--interval 5] [--db postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stock_bench import (
    JWT_SECRET,
    PeakRss,
    bench_settings,
    free_redis,
    fresh_database,
    sandboxes_process,
)

from rakuten_connector.clients.cubyn import CATALOG_CONCURRENCY
from rakuten_connector.clients.rakuten import STOCK_WS
from rakuten_connector.clients.rakuten_http import VERSIONS
from rakuten_connector.kit.auth import Role, issue_token
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.main import create_app
from rakuten_connector.sandbox.serve import free_port, serve
from rakuten_connector.worker import running_in_background

MB = 1024 * 1024
TARGET_SECONDS = 30.0
RSS_TARGET_MB = 50
NEXT_TOKEN = re.compile(rb"<nexttoken>([^<]*)</nexttoken>")
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


async def bare_read(
    rakuten: httpx.AsyncClient, cubyn: httpx.AsyncClient, login: str, token: str, key: str
) -> tuple[float, float]:
    """Seconds to fetch Rakuten's export page after page and Cubyn's catalogue pages, CATALOG_CONCURRENCY at
    a time, each page decoded (XML by lxml, JSON by the json module); nothing stored."""
    started = time.perf_counter()
    params = {"action": "export", "login": login, "pwd": token, "version": VERSIONS["export"]}
    while True:
        page = await rakuten.get(f"/{STOCK_WS}", params=params)
        etree.fromstring(page.content, XML_PARSER)
        found = NEXT_TOKEN.search(page.content)
        if found is None or not found.group(1).strip():
            break
        params["nexttoken"] = found.group(1).strip().decode()
    rakuten_seconds = time.perf_counter() - started
    started = time.perf_counter()
    headers = {"X-Application": key}
    first = await cubyn.get("/product-catalog/products", params={"offset": 0, "limit": 100}, headers=headers)
    total, gate = int(first.headers["x-total-count"]), asyncio.Semaphore(CATALOG_CONCURRENCY)

    async def page_at(offset: int) -> None:
        async with gate:
            answer = await cubyn.get(
                "/product-catalog/products", params={"offset": offset, "limit": 100}, headers=headers
            )
            json.loads(answer.content)

    json.loads(first.content)
    await asyncio.gather(*(page_at(offset) for offset in range(100, total, 100)))
    return rakuten_seconds, time.perf_counter() - started


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
            async with (
                serve(create_app(settings), port=port),
                httpx.AsyncClient(base_url=settings.public_base_url, timeout=60) as api,
            ):
                body = {"name": "Bench", "seller_id": login, "token": token, "cubyn_api_key": key}
                created = await api.post("/v1/connections", json=body, headers=headers)
                assert created.status_code == 201, created.text
                cid = created.json()["id"]
                async with running_in_background(settings):
                    with PeakRss() as rss:
                        started = time.perf_counter()
                        sync = (await api.post(f"/v1/connections/{cid}/stock-syncs", headers=headers)).json()
                        phase, result, seen = "", {}, []
                        while True:
                            await asyncio.sleep(0.5)
                            response = await api.get(
                                f"/v1/connections/{cid}/stock-syncs/{sync['id']}", headers=headers
                            )
                            result = response.json()
                            if result["phase"] != phase:
                                phase = result["phase"]
                                seen.append((phase, time.perf_counter() - started))
                                print(f"  {seen[-1][1]:7.1f} s  {phase:16} {result['progress']}")
                            if result["status"] in ("succeeded", "failed"):
                                break
                        duration = time.perf_counter() - started
                        phases = dict(seen)
            bare_rakuten, bare_cubyn = await bare_read(rakuten, cubyn, login, token, key)
            uploads = (await rakuten.get(f"/_sandbox/sellers/{login}/uploads")).json()["uploads"]
            sample = (
                await rakuten.get(f"/_sandbox/sellers/{login}/inventory", params={"sku": "SKU-000007"})
            ).json()
    print(f"full sync of {skus:,} SKUs on both sides ({db}), interval between files {interval} s")
    print(f"  status {result['status']}, progress {result['progress']}, error {result['error']}")
    print(f"  files sent: {len(uploads)} ({', '.join(str(len(u['lines'])) for u in uploads)} SKUs)")
    print(f"  SKU-000007 on Rakuten after the sync: {sample['adverts'][0]['stock']} (Cubyn: 8)")
    print(f"  duration: {duration:.1f} s (of which {max(0, len(uploads) - 1) * interval} s waiting between files)")
    reading = phases.get("comparing", duration) - phases.get("reading_rakuten", 0.0)
    rakuten_read = phases.get("reading_cubyn", duration) - phases.get("reading_rakuten", 0.0)
    waits = max(0, len(uploads) - 1) * interval
    growth = (rss.peak - rss.baseline) / MB
    print(
        f"  target: {TARGET_SECONDS:.0f} s + {waits} s of waits: {'met' if duration <= TARGET_SECONDS + waits else 'MISSED'}"
    )
    print(
        f"  reading: {reading:.1f} s (Rakuten {rakuten_read:.1f} s, Cubyn {reading - rakuten_read:.1f} s);"
        f" bare read {bare_rakuten + bare_cubyn:.1f} s (Rakuten {bare_rakuten:.1f} s, Cubyn {bare_cubyn:.1f} s);"
        f" bare / connector = {(bare_rakuten + bare_cubyn) / reading:.2f} (target >= 0.5)"
    )
    print(
        f"  peak RSS of the API + worker process: {rss.peak / MB:.0f} MB "
        f"(baseline {rss.baseline / MB:.0f} MB, growth {growth:.0f} MB; target <= {RSS_TARGET_MB} MB:"
        f" {'met' if growth <= RSS_TARGET_MB else 'MISSED'})"
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
