"""Throw-away PostgreSQL databases and Redis dbs for the test runs and the benchmarks."""

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
            await asyncio.to_thread(upgrade, url, configure_logger=False)
        yield url
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


REDIS_LOCK_KEY = "rakuten-connector:test-run-lock"


@asynccontextmanager
async def scratch_redis_db(base_url: str) -> AsyncIterator[str]:
    """A Redis db (1-15) of our own for the block: the first whose lock key we can take, emptied before
    and after, so parallel test runs and benchmarks never share a queue."""
    owner = uuid.uuid4().hex
    for db in range(1, 16):
        client = Redis.from_url(f"{base_url}/{db}")
        try:
            if not await client.set(REDIS_LOCK_KEY, owner, nx=True, ex=3600):
                continue
            await client.flushdb()  # leftovers of a run that died; this also drops our lock...
            if not await client.set(REDIS_LOCK_KEY, owner, nx=True, ex=3600):
                continue  # ...and another run took the db in that instant: it is theirs now
            try:
                yield f"{base_url}/{db}"
            finally:
                await client.flushdb()
            return
        finally:
            await client.aclose()
    raise RuntimeError("every Redis db 1-15 is taken by another run")
