"""What the stock benchmarks share: a fresh database, a free Redis db, the sandboxes in a child process
(so that their memory and CPU are not counted as the connector's)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from _memory import PeakRss
from _scratch import scratch_database, scratch_redis_db
from cryptography.fernet import Fernet

from rakuten_connector.migrate import upgrade
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import AppEnv, Settings

__all__ = ["PeakRss"]  # shared with the stock benchmarks

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
JWT_SECRET = "bench-jwt-secret-" + uuid.uuid4().hex + uuid.uuid4().hex


@asynccontextmanager
async def fresh_database(kind: str, tmp: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    async with scratch_database(POSTGRES_ADMIN_URL, "rc_bench") as url:
        yield url


@asynccontextmanager
async def free_redis() -> AsyncIterator[str]:
    """A Redis db of its own (test runs and other benchmarks take others)."""
    async with scratch_redis_db(REDIS_BASE_URL) as url:
        yield url


def _serve_sandboxes(rakuten_port: int, cubyn_port: int) -> None:
    from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
    from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
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
        rate_limits_enabled=False,
        **extra,  # type: ignore[arg-type]
    )
