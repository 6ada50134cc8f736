"""Shared fixtures: a private database (SQLite or PostgreSQL) and Redis db per run, the app, tokens.

`TEST_DB=postgresql` runs the suite on a fresh PostgreSQL database (TEST_POSTGRES_URL, default the local
server); anything else uses a SQLite file. Each run takes a Redis db of its own (a lock key per db), so
parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.kit.auth import Role, issue_token
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.main import create_app
from rakuten_connector.migrate import upgrade
from rakuten_connector.models import Base
from rakuten_connector.settings import AppEnv, Settings
from tests.scratch import scratch_database, scratch_redis_db

RAKUTEN_URL = "https://rakuten.test"
CUBYN_URL = "https://cubyn.test/v2"
PUBLIC_URL = "https://connector.test"
JWT_SECRET = "test-jwt-secret-" + uuid.uuid4().hex + uuid.uuid4().hex
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


class LogCapture(io.TextIOBase):
    """Every log line written during the run, to prove no secret was ever logged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            self.lines.append(text)
        return len(text)

    def text(self) -> str:
        with self._lock:
            return "".join(self.lines)


LOGS = LogCapture()
# Secrets used by tests register here; the run fails if any of them reached a log line.
SECRETS_USED: set[str] = set()


@pytest.fixture(scope="session", autouse=True)
def _capture_logs() -> Iterator[LogCapture]:
    configure_logging("DEBUG", stream=LOGS)
    yield LOGS
    leaked = sorted(s for s in SECRETS_USED if s in LOGS.text())
    assert not leaked, f"{len(leaked)} secret(s) appeared in log lines"


def use_secret(value: str) -> str:
    SECRETS_USED.add(value)
    return value


@pytest.fixture(scope="session")
def test_db_kind() -> str:
    return "postgresql" if os.environ.get("TEST_DB", "sqlite").startswith("postgres") else "sqlite"


@pytest.fixture(scope="session")
async def database_url(test_db_kind: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if test_db_kind == "sqlite":
        path = Path(tmp_path_factory.mktemp("db")) / "test.db"
        url = f"sqlite+aiosqlite:///{path}"
        await asyncio.to_thread(upgrade, url)
        yield url
        return
    async with scratch_database(POSTGRES_ADMIN_URL, "rc_test") as url:
        yield url


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """A Redis db of our own for this run."""
    async with scratch_redis_db(REDIS_BASE_URL) as url:
        yield url


@pytest.fixture(scope="session")
def fernet_keys() -> list[str]:
    return [Fernet.generate_key().decode()]


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str, fernet_keys: list[str]) -> Settings:
    return Settings(
        app_env=AppEnv.TEST,
        database_url=database_url,
        redis_url=redis_url,
        secret_keys=",".join(fernet_keys),
        auth_jwt_secret=JWT_SECRET,
        public_base_url=PUBLIC_URL,
        rakuten_base_url=RAKUTEN_URL,
        cubyn_api_url=CUBYN_URL,
        upstream_timeout_seconds=2.0,
        # Tests call the same routes many times; the rate limit tests turn limits on for themselves.
        rate_limits_enabled=False,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    yield engine
    await engine.dispose()


async def no_task_left_behind(before: set[asyncio.Task[Any]], seconds: float = 30.0) -> None:
    """Tasks a test started must be over when it ends: one still running would write into the next test's
    tables or Redis db. Waits for them (generously), then fails naming those that did not stop."""
    current = asyncio.current_task()
    left = {t for t in asyncio.all_tasks() if t not in before and t is not current and not t.done()}
    if left:
        _, left = await asyncio.wait(left, timeout=seconds)
    if left:
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        names = sorted(repr(task.get_coro()) for task in left)
        raise AssertionError(f"{len(left)} task(s) still running after the test: {names}")


@pytest.fixture(autouse=True)
async def _tasks_end_with_their_test() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    await no_task_left_behind(before)


@pytest.fixture
async def sessions(engine: AsyncEngine, settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    before = asyncio.all_tasks()
    factory = session_factory(engine)
    yield factory
    await no_task_left_behind(before)
    # Each test starts from empty tables and an empty queue: a job a test left queued would otherwise run
    # in the next test's worker, against rows that are gone or belong to another world.
    async with factory() as session:
        for table in reversed(Base.metadata.sorted_tables):
            await session.execute(delete(table))
        await session.commit()
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@pytest.fixture
async def app(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


def auth_headers(merchant_id: str = "merchant-a", role: Role = Role.MERCHANT, **kwargs: Any) -> dict[str, str]:
    token = issue_token(JWT_SECRET, merchant_id, role, kwargs.pop("ttl", timedelta(hours=1)), **kwargs)
    return {"Authorization": f"Bearer {token}"}
