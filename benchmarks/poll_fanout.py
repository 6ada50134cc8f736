"""Poll fan-out: 2,000 connections, Rakuten answering every call after 100 ms, one then two worker processes.

Figures: seconds for `rakuten-connector worker` (one process, then two) to poll every connection once (each
sees an empty getnewsales), from the moment they all become due until every one has `last_import_at`; then
a bare script making the same getnewsales calls with httpx, as many at a time as one worker polls, with no
database, and the ratio between the two. The connections are written straight into the database (tokens
encrypted with the settings' keys), not through the API's live credential checks. Target: 5 s, ratio 0.5.

    .venv/bin/python benchmarks/poll_fanout.py [--connections 2000] [--latency 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from _common import (
    FAR_FUTURE,
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
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.clients.rakuten import SALES_WS
from rakuten_connector.clients.rakuten_http import VERSIONS
from rakuten_connector.connections.models import Connection
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.runtime import HTTP_CONNECTIONS, HTTP_KEEPALIVE, HTTP_POOLS, IMPORT_CONCURRENCY
from rakuten_connector.settings import Settings

TARGET_SECONDS = 5.0


@dataclass
class Polled:
    seconds: float
    cpu: float
    seen: list[tuple[float, int]]  # (seconds since due, connections polled so far)
    errors: int


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


async def connector_run(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, count: int, processes: int, workdir: Path
) -> Polled:
    """Make every connection due at once and wait until `processes` worker processes polled each once."""
    # A fresh start: nothing polled, claimed, leased or due, and no job left in the queue by the last run
    # (its worker stopped in the middle of the polls of shops due again soon after).
    async with sessions() as session:
        await session.execute(
            update(Connection).values(
                last_import_at=None,
                import_queued_until=None,
                next_import_at=FAR_FUTURE,
                lease_owner=None,
                lease_until=None,
            )
        )
        await session.commit()
    redis = Redis.from_url(settings.redis_url)
    await redis.flushdb()
    await redis.aclose()
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(worker_process(settings, workdir / f"worker-fanout-{processes}-{n}.log"))
            for n in range(processes)
        ]
        await asyncio.sleep(1.0)  # let the startup cron jobs pass
        async with sessions() as session:
            await session.execute(update(Connection).values(next_import_at=func.now()))
            await session.commit()
        started, cpu_before = time.monotonic(), sum(cpu_seconds(w.pid) for w in workers)
        seen: list[tuple[float, int]] = []

        async def all_polled() -> bool:
            async with sessions() as session:
                polled = await session.scalar(select(func.count()).where(Connection.last_import_at.is_not(None)))
            seen.append((time.monotonic() - started, polled or 0))
            return polled == count

        finished = await wait_until(all_polled, limit=300, every=0.05)
        cpu = sum(cpu_seconds(w.pid) for w in workers) - cpu_before
    async with sessions() as session:
        errors = await session.scalar(select(func.count()).where(Connection.last_import_error.is_not(None)))
    return Polled(finished - started, cpu, seen, errors or 0)


async def bare_run(rakuten_url: str, credentials: list[tuple[str, str]]) -> tuple[float, float]:
    """The same getnewsales calls with httpx, IMPORT_CONCURRENCY at a time over as many pools as a worker
    has, the answers read, nothing stored. Returns seconds and CPU seconds."""
    limits = httpx.Limits(
        max_connections=HTTP_CONNECTIONS // HTTP_POOLS, max_keepalive_connections=HTTP_KEEPALIVE // HTTP_POOLS
    )
    async with contextlib.AsyncExitStack() as stack:
        pools = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=rakuten_url, limits=limits, timeout=30))
            for _ in range(HTTP_POOLS)
        ]
        gate = asyncio.Semaphore(IMPORT_CONCURRENCY)

        async def one(n: int, login: str, token: str) -> None:
            params = {"action": "getnewsales", "login": login, "pwd": token, "version": VERSIONS["getnewsales"]}
            async with gate:
                answer = await pools[n % HTTP_POOLS].get(f"/{SALES_WS}", params=params)
                if answer.status_code != 200:
                    raise RuntimeError(f"bare getnewsales answered {answer.status_code}")

        started, cpu_before = time.monotonic(), time.process_time()
        await asyncio.gather(*(one(n, login, token) for n, (login, token) in enumerate(credentials)))
        return time.monotonic() - started, time.process_time() - cpu_before


def report(polled: Polled, count: int, processes: int, bare: float) -> None:
    first_seen = next((t for t, n in polled.seen if n > 0), polled.seconds)
    met = "met" if polled.seconds <= TARGET_SECONDS else "MISSED"
    say(
        f"  {processes} worker process(es): all {count} polled once in {polled.seconds:6.2f} s"
        f" (target <= {TARGET_SECONDS:.0f} s: {met}); bare / connector = {bare / polled.seconds:.2f}"
    )
    say(
        f"    first poll done after {first_seen:.2f} s (the next scheduling tick, every second);"
        f" {count / max(polled.seconds - first_seen, 1e-9):.0f} polls/s from then on"
    )
    marks = ", ".join(
        f"{int(mark * 100)}% at {next((t for t, n in polled.seen if n >= mark * count), polled.seconds):.2f} s"
        for mark in (0.25, 0.5, 0.75)
    )
    say(f"    {marks}; import errors: {polled.errors}")
    say(
        f"    worker CPU: {polled.cpu:.1f} s = {polled.cpu / polled.seconds * 100:.0f}% of one core,"
        f" {polled.cpu / count * 1000:.2f} ms per poll"
    )


async def main(count: int, latency: float) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="rc-bench-fanout-"))
    async with bench_database() as database_url, bench_redis() as redis_url:
        with sandbox_process("rakuten") as rakuten_url:
            settings = bench_settings(database_url, redis_url, rakuten_url, "http://127.0.0.1:9")
            say(f"poll_fanout: {count} connections, Rakuten latency {latency * 1000:.0f} ms, PostgreSQL")
            credentials = await create_sellers(rakuten_url, count)
            engine = create_engine(database_url)
            sessions = session_factory(engine)
            try:
                await insert_connections(sessions, settings, credentials, "cub-unused")
                async with httpx.AsyncClient(base_url=rakuten_url) as http:
                    (await http.put("/_sandbox/faults", json={"latency_seconds": latency})).raise_for_status()
                runs = {n: await connector_run(sessions, settings, count, n, workdir) for n in (1, 2)}
            finally:
                await engine.dispose()
            bare, bare_cpu = await bare_run(rakuten_url, credentials)
    say(
        f"  bare: the same {count} getnewsales with httpx, {IMPORT_CONCURRENCY} at a time, no database: {bare:6.2f} s,"
        f" {bare_cpu / count * 1000:.2f} ms CPU per call"
    )
    for processes, polled in runs.items():
        report(polled, count, processes, bare)
    say(f"  worker logs: {workdir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.connections, arguments.latency))
