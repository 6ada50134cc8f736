"""What the benchmarks share: a throwaway PostgreSQL database, a flushed Redis db, sandboxes in processes of
their own, one `rakuten-connector worker` process, and connections written straight into the database.

Sandboxes and the worker each get a process so that none of them slows the others' event loop: the figures
are the worker's, not the simulators'.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _scratch import scratch_database, scratch_redis_db
from cryptography.fernet import Fernet
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection, ConnectionState, seller_key
from rakuten_connector.kit.crypto import SecretBox, new_webhook_secret
from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
from rakuten_connector.sandbox.serve import free_port, serve
from rakuten_connector.settings import AppEnv, Settings

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
MERCHANT_ID = "merchant-bench"
FAR_FUTURE = datetime(2999, 1, 1, tzinfo=UTC)


def say(text: str) -> None:
    print(text, flush=True)


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    """A fresh `rc_bench_<random>` database, migrated; dropped at the end whatever happens."""
    async with scratch_database(POSTGRES_ADMIN_URL, "rc_bench") as url:
        yield url


@asynccontextmanager
async def bench_redis() -> AsyncIterator[str]:
    """A Redis db of its own (test runs and other benchmarks take others)."""
    async with scratch_redis_db(REDIS_BASE_URL) as url:
        yield url


def bench_settings(database_url: str, redis_url: str, rakuten_url: str, cubyn_url: str) -> Settings:
    return Settings(
        app_env=AppEnv.DEVELOPMENT,
        database_url=database_url,
        redis_url=redis_url,
        secret_keys=Fernet.generate_key().decode(),
        public_base_url="http://127.0.0.1:9",  # no webhook is registered: nothing calls it
        rakuten_base_url=rakuten_url,
        cubyn_api_url=cubyn_url,
        import_interval_seconds=300,
        rate_limits_enabled=False,
    )


# -- sandboxes in their own processes --------------------------------------------------------------------


def _serve_sandbox(kind: str, port: int) -> None:
    if kind == "rakuten":
        app = create_rakuten_sandbox(seed=1)
    else:
        # No lifecycle: parcels stay CREATED, so the figures are about creating them and nothing else.
        delays = LifecycleDelays(validate=None, pick=None, pack=None, ship=None)
        app = create_cubyn_sandbox(delays=delays, seed=1)

    async def main() -> None:
        async with serve(app, port=port):
            await asyncio.Event().wait()

    asyncio.run(main())


@contextmanager
def sandbox_process(kind: str) -> Iterator[str]:
    """The Rakuten or Cubyn sandbox served by uvicorn in a spawned process; yields its base URL."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=_serve_sandbox, args=(kind, port), daemon=True)
    process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/_sandbox/faults", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or not process.is_alive():
                    raise RuntimeError(f"the {kind} sandbox did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.join(10)


# -- the worker -------------------------------------------------------------------------------------------


def worker_environment(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the connector's processes (worker and API): the settings, and `extra` on top."""
    return {
        **os.environ,
        "APP_ENV": settings.app_env.value,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "PUBLIC_BASE_URL": settings.public_base_url,
        "RAKUTEN_BASE_URL": settings.rakuten_base_url,
        "CUBYN_API_URL": settings.cubyn_api_url,
        "IMPORT_INTERVAL_SECONDS": str(settings.import_interval_seconds),
        "STOCK_FULL_SYNC_ENABLED": "false",
        "RATE_LIMITS_ENABLED": "false",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        **(extra or {}),
    }


@contextmanager
def worker_process(
    settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m rakuten_connector worker`, logging to `log_path`; ready once arq says it started."""
    command = [sys.executable, "-m", "rakuten_connector", "worker"]
    with child_process(command, worker_environment(settings, extra_env), log_path) as process:
        wait_started(lambda: b"Starting worker" in log_path.read_bytes(), process, f"the worker; see {log_path}")
        yield process


@contextmanager
def api_process(
    settings: Settings, log_path: Path, port: int, *, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`rakuten-connector api --port PORT --workers N`, logging to `log_path`; ready once /healthz answers."""
    command = [sys.executable, "-m", "rakuten_connector", "api", "--port", str(port), "--workers", str(workers)]
    with child_process(command, worker_environment(settings, extra_env), log_path) as process:
        wait_started(lambda: answers(f"http://127.0.0.1:{port}/healthz"), process, f"the API; see {log_path}")
        yield process


def answers(url: str, method: str = "GET", status: int = 200) -> bool:
    """Whether `url` answers `method` with `status` (False while nothing listens)."""
    try:
        return httpx.request(method, url, timeout=1).status_code == status
    except httpx.HTTPError:
        return False


def wait_started(ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.1)


@contextmanager
def child_process(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child process logging to `log_path`, stopped (SIGTERM, then SIGKILL) when the block ends."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- connections written straight into the database -------------------------------------------------------


async def insert_connections(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    credentials: list[tuple[str, str]],
    cubyn_key: str,
    *,
    next_import_at: datetime = FAR_FUTURE,
    stock_sync: bool = False,
    webhook_secrets: list[str] | None = None,
) -> list[str]:
    """One active connection per (login, token), secrets encrypted as the API would (the webhook secrets:
    `webhook_secrets`, in the same order, or new ones); returns their ids."""
    box = SecretBox(settings.fernet_keys)
    cubyn_enc = box.encrypt(cubyn_key)
    rows: list[dict[str, Any]] = []
    secrets = webhook_secrets or [new_webhook_secret() for _ in credentials]
    for (login, token), webhook_secret in zip(credentials, secrets, strict=True):
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "merchant_id": MERCHANT_ID,
                "name": f"Boutique {login}",
                "seller_id": login,
                "seller_key": seller_key(login),
                "stock_sync_enabled": stock_sync,
                "paused": False,
                "state": ConnectionState.ACTIVE.value,
                "rakuten_token_enc": box.encrypt(token),
                "cubyn_api_key_enc": cubyn_enc,
                "webhook_secret_enc": box.encrypt(webhook_secret),
                "next_import_at": next_import_at,
            }
        )
    async with sessions() as session:
        for start in range(0, len(rows), 500):
            await session.execute(insert(Connection), rows[start : start + 500])
        await session.commit()
    return [row["id"] for row in rows]


async def wait_until(
    check: Callable[[], Any], *, limit: float, every: float = 0.1, progress: Callable[[Any], None] | None = None
) -> float:
    """Poll `check()` (an awaitable returning a truthy value when done); returns the monotonic end time."""
    deadline = time.monotonic() + limit
    while True:
        result = await check()
        if progress is not None:
            progress(result)
        if result is True:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark did not finish in time")
        await asyncio.sleep(every)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def utc_in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
