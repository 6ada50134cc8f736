"""Redis for the demo: the configured one when it answers, else a private `redis-server` for the run."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from rakuten_connector.demo.shop import DemoError
from rakuten_connector.sandbox.serve import free_port

REDIS_MISSING = "Redis is needed: install redis-server (apt-get install redis-server) or set REDIS_URL."


async def redis_answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@asynccontextmanager
async def redis_for_demo(url: str) -> AsyncIterator[str]:
    """`url` when it answers; else a private `redis-server` on a free port, stopped on exit."""
    if await redis_answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise DemoError(REDIS_MISSING)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rakuten-connector-redis-") as folder:
        # Its own session: Ctrl-C in the terminal must not stop Redis before the worker has let go of it.
        process = await asyncio.create_subprocess_exec(
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", folder, "--daemonize", "no"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        private_url = f"redis://127.0.0.1:{port}/0"
        try:
            for _ in range(100):
                if process.returncode is not None:
                    raise DemoError(
                        f"redis-server stopped at once (exit code {process.returncode}). {REDIS_MISSING}"
                    )
                if await redis_answers(private_url):
                    break
                await asyncio.sleep(0.05)
            else:
                raise DemoError(f"redis-server did not answer on port {port}. {REDIS_MISSING}")
            yield private_url
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 5)
                except TimeoutError:
                    process.kill()
                    await process.wait()
