"""Throw-away PostgreSQL databases and Redis dbs for the test runs and the benchmarks (not shipped)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from redis.asyncio import Redis

from rakuten_connector.migrate import upgrade


@asynccontextmanager
async def scratch_database(admin_url: str, prefix: str, *, migrate: bool = True) -> AsyncIterator[str]:
    """A new database next to `admin_url` (a plain `postgresql://` URL), migrated unless told not to;
    yields its SQLAlchemy URL and drops it at the end, whatever happens."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    url = f"{base}/{name}"
    try:
        if migrate:
            await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


REDIS_LOCK_KEY = "rakuten-connector:test-run-lock:{db}"


@asynccontextmanager
async def scratch_redis_db(base_url: str) -> AsyncIterator[str]:
    """A Redis db (1-15) of our own for the block, emptied before and after, so parallel test runs and
    benchmarks never share a queue. The claim on db N is a key in db 0, which no run empties: a test
    that flushes its own db (to lose its jobs, as Redis would) keeps the db its own."""
    owner = uuid.uuid4().hex
    locks = Redis.from_url(f"{base_url}/0")
    try:
        for db in range(1, 16):
            lock = REDIS_LOCK_KEY.format(db=db)
            if not await locks.set(lock, owner, nx=True, ex=3 * 3600):
                continue
            client = Redis.from_url(f"{base_url}/{db}")
            try:
                await client.flushdb()  # leftovers of a run that died
                yield f"{base_url}/{db}"
                return
            finally:
                await client.flushdb()
                await client.aclose()
                if await locks.get(lock) == owner.encode():
                    await locks.delete(lock)
        raise RuntimeError("every Redis db 1-15 is taken by another run")
    finally:
        await locks.aclose()
