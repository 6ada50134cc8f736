"""What the stock benchmarks share: a fresh database, a free Redis db, the sandboxes in a child process
(so that their memory and CPU are not counted as the connector's), and a peak-RSS sampler."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from cryptography.fernet import Fernet
from redis.asyncio import Redis

from rakuten_connector.migrate import upgrade
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import AppEnv, Settings

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
JWT_SECRET = "bench-jwt-secret-" + uuid.uuid4().hex + uuid.uuid4().hex


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


class PeakRss:
    """Samples this process's RSS in a thread while the block runs."""

    def __enter__(self) -> PeakRss:
        gc.collect()
        self.baseline = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


@asynccontextmanager
async def fresh_database(kind: str, tmp: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        await asyncio.to_thread(upgrade, url, configure_logger=False)
        yield url
        return
    import asyncpg

    name = f"rc_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        await asyncio.to_thread(upgrade, f"{base}/{name}", configure_logger=False)
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def free_redis() -> AsyncIterator[str]:
    """The first Redis db (15 down to 1) whose lock key we can take; flushed before and after."""
    owner = uuid.uuid4().hex
    for db in range(15, 0, -1):
        client = Redis.from_url(f"{REDIS_BASE_URL}/{db}")
        try:
            if await client.set("rakuten-connector:test-run-lock", owner, nx=True, ex=3600):
                await client.flushdb()
                await client.set("rakuten-connector:test-run-lock", owner, ex=3600)
                try:
                    yield f"{REDIS_BASE_URL}/{db}"
                finally:
                    await client.flushdb()
                return
        finally:
            await client.aclose()
    raise RuntimeError("no free Redis db")


def _serve_sandboxes(rakuten_port: int, cubyn_port: int) -> None:
    from rakuten_connector.sandbox.cubyn import create_cubyn_sandbox
    from rakuten_connector.sandbox.rakuten import create_rakuten_sandbox
    from rakuten_connector.sandbox.serve import serve

    async def main() -> None:
        async with (
            serve(create_rakuten_sandbox(seed=1), port=rakuten_port),
            serve(create_cubyn_sandbox(seed=1, webhook_retry_base=0.05), port=cubyn_port),
        ):
            await asyncio.Event().wait()

    asyncio.run(main())


@asynccontextmanager
async def sandboxes_process() -> AsyncIterator[tuple[str, str]]:
    """Both sandboxes in a child process; yields their base URLs once they answer."""
    import httpx

    rakuten_port, cubyn_port = free_port(), free_port()
    process = multiprocessing.get_context("spawn").Process(
        target=_serve_sandboxes, args=(rakuten_port, cubyn_port), daemon=True
    )
    process.start()
    urls = (f"http://127.0.0.1:{rakuten_port}", f"http://127.0.0.1:{cubyn_port}")
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                with suppress(httpx.HTTPError):
                    if (await http.get(f"{urls[1]}/_sandbox/applications")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield urls
    finally:
        process.terminate()
        process.join(5)


def bench_settings(
    database_url: str, redis_url: str, rakuten_url: str, cubyn_url: str, **extra: object
) -> Settings:
    return Settings(
        app_env=AppEnv.TEST,
        database_url=database_url,
        redis_url=redis_url,
        secret_keys=Fernet.generate_key().decode(),
        auth_jwt_secret=JWT_SECRET,
        rakuten_base_url=rakuten_url,
        cubyn_api_url=cubyn_url,
        log_level="WARNING",
        stock_full_sync_enabled=False,
        **extra,  # type: ignore[arg-type]
    )
