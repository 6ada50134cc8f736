"""Real processes for the end-to-end tests: `rakuten-connector api` and `rakuten-connector worker`,
started with the test settings in their environment, killable with any signal."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings
from tests.conftest import LOGS, auth_headers
from tests.e2e.world import FAST, MERCHANT, World, sandboxes, seed, wait_for, world_settings


def environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "PYTEST"))}
    env.update(
        {
            "APP_ENV": "test",
            "DATABASE_URL": settings.database_url,
            "REDIS_URL": settings.redis_url,
            "SECRET_KEYS": settings.secret_keys.get_secret_value(),
            "AUTH_JWT_SECRET": settings.auth_jwt_secret.get_secret_value(),
            "PUBLIC_BASE_URL": settings.public_base_url,
            "RAKUTEN_BASE_URL": settings.rakuten_base_url,
            "CUBYN_API_URL": settings.cubyn_api_url,
            "IMPORT_INTERVAL_SECONDS": str(settings.import_interval_seconds),
            "LEASE_SECONDS": str(settings.lease_seconds),
            "UPSTREAM_TIMEOUT_SECONDS": str(settings.upstream_timeout_seconds),
            "RATE_LIMITS_ENABLED": str(settings.rate_limits_enabled).lower(),
            "LOG_LEVEL": "INFO",
        }
    )
    return env


@dataclass
class Processes:
    settings: Settings
    logs: Path
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started: int = 0

    def start(self, *args: str, env: dict[str, str] | None = None) -> str:
        self.started += 1
        name = f"{args[0]}-{self.started}"
        log = (self.logs / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(
            [sys.executable, "-m", "rakuten_connector", *args],
            env={**environment(self.settings), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return name

    def start_worker(self) -> str:
        return self.start("worker")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.running.pop(name)
        process.send_signal(sig)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.running):
            process = self.running.pop(name)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def output(self) -> str:
        return "".join(path.read_text(errors="replace") for path in sorted(self.logs.glob("*.log")))


@asynccontextmanager
async def system(
    base: Settings, tmp_path: Path, *, delays: LifecycleDelays = FAST, stock: int = 100, workers: int = 1
) -> AsyncIterator[tuple[World, Processes]]:
    """Sandboxes in this process; the API and `workers` worker processes as real processes."""
    async with AsyncExitStack() as stack:
        rakuten, cubyn = await stack.enter_async_context(sandboxes(delays))
        port = free_port()
        settings = world_settings(base, rakuten, cubyn, port)
        processes = Processes(settings, tmp_path)
        try:
            processes.start("api", "--port", str(port))
            api = await stack.enter_async_context(httpx.AsyncClient(base_url=settings.public_base_url, timeout=60))

            async def api_up() -> bool:
                try:
                    return (await api.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_for(api_up, seconds=30, what="the API process")
            for _ in range(workers):
                processes.start_worker()
            login, token, cubyn_key = await seed(rakuten, cubyn, stock)
            yield (
                World(settings, api, rakuten, cubyn, login, token, cubyn_key, headers=auth_headers(MERCHANT)),
                processes,
            )
        finally:
            await asyncio.to_thread(processes.stop_all)
            # The processes' own logs are checked for secrets with the rest of the run.
            LOGS.write(processes.output())
