"""Poll fan-out: 2,000 connections, Rakuten answering every call after 100 ms, one worker process.

Figure: seconds for one `rakuten-connector worker` process to poll every connection once (each sees an
empty getnewsales), from the moment they all become due until every one has `last_import_at`. The
connections are written straight into the database (tokens encrypted with the settings' keys), not
through the API's live credential checks. Target: under 15 s.

    .venv/bin/python benchmarks/poll_fanout.py [--connections 2000] [--latency 0.1]
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

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import create_engine, session_factory

TARGET_SECONDS = 15.0


async def create_sellers(rakuten_url: str, count: int) -> list[tuple[str, str]]:
    credentials = [(f"shop-{n:05d}-{uuid.uuid4().hex[:4]}", uuid.uuid4().hex) for n in range(count)]
    async with httpx.AsyncClient(base_url=rakuten_url, timeout=60) as http:
        gate = asyncio.Semaphore(32)

        async def one(login: str, token: str) -> None:
            async with gate:
                answer = await http.post("/_sandbox/sellers", json={"login": login, "token": token})
                answer.raise_for_status()

        await asyncio.gather(*(one(login, token) for login, token in credentials))
    return credentials


async def main(count: int, latency: float) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rc-bench-fanout-"))
    async with bench_database() as database_url, bench_redis() as redis_url:
        with sandbox_process("rakuten") as rakuten_url:
            settings = bench_settings(database_url, redis_url, rakuten_url, "http://127.0.0.1:9")
            say(
                f"poll_fanout: {count} connections, Rakuten latency {latency * 1000:.0f} ms, PostgreSQL, 1 worker process"
            )
            credentials = await create_sellers(rakuten_url, count)
            engine = create_engine(database_url)
            sessions = session_factory(engine)
            try:
                await insert_connections(sessions, settings, credentials, "cub-unused")
                async with httpx.AsyncClient(base_url=rakuten_url) as http:
                    (await http.put("/_sandbox/faults", json={"latency_seconds": latency})).raise_for_status()
                with worker_process(settings, workdir / "worker-fanout.log") as worker:
                    await asyncio.sleep(1.0)  # let the startup cron jobs pass
                    async with sessions() as session:
                        await session.execute(update(Connection).values(next_import_at=func.now()))
                        await session.commit()
                    started, cpu_before = time.monotonic(), cpu_seconds(worker.pid)
                    seen: list[tuple[float, int]] = []

                    async def all_polled() -> bool:
                        async with sessions() as session:
                            polled = await session.scalar(
                                select(func.count()).where(Connection.last_import_at.is_not(None))
                            )
                        seen.append((time.monotonic() - started, polled or 0))
                        return polled == count

                    finished = await wait_until(all_polled, limit=300, every=0.1)
                    cpu = cpu_seconds(worker.pid) - cpu_before
                async with sessions() as session:
                    first, last = (
                        await session.execute(
                            select(func.min(Connection.last_import_at), func.max(Connection.last_import_at))
                        )
                    ).one()
                    errors = await session.scalar(
                        select(func.count()).where(Connection.last_import_error.is_not(None))
                    )
            finally:
                await engine.dispose()
    total = finished - started
    first_seen = next((t for t, n in seen if n > 0), total)
    say(
        f"  all {count} connections polled once: {total:6.2f} s  (target < {TARGET_SECONDS:.0f} s: {'met' if total < TARGET_SECONDS else 'MISSED'})"
    )
    say(f"  first import done after {first_seen:.2f} s (waiting for the next scheduling tick, every second)")
    say(
        f"  imports started over {(last - first).total_seconds():.2f} s -> {count / max(total - first_seen, 1e-9):.0f} polls/s once started"
    )
    for mark in (0.25, 0.5, 0.75):
        at = next((t for t, n in seen if n >= mark * count), total)
        say(f"  {int(mark * 100):3d}% polled at {at:6.2f} s")
    say(
        f"  worker CPU meanwhile: {cpu:.1f} s = {cpu / total * 100:.0f}% of one core, {cpu / count * 1000:.1f} ms per poll"
    )
    say(f"  connections with an import error: {errors}")
    say(f"  worker log: {workdir / 'worker-fanout.log'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.connections, arguments.latency))
