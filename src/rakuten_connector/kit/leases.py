"""Short database leases: "one worker at a time" for a row, on SQLite and PostgreSQL alike.

A lease is taken with one conditional UPDATE (free, expired, or already ours), so two workers racing
for it cannot both win; it expires by itself if its holder dies (SIGKILL), so nothing stays locked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow


def new_owner() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def acquire(
    sessions: async_sessionmaker[AsyncSession], model: Any, row_id: str, owner: str, ttl: timedelta
) -> bool:
    now = utcnow()
    async with sessions() as session:
        result = await session.execute(
            update(model)
            .where(
                model.id == row_id,
                or_(model.lease_until.is_(None), model.lease_until < now, model.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=now + ttl)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return bool(getattr(result, "rowcount", 0) == 1)


async def release(sessions: async_sessionmaker[AsyncSession], model: Any, row_id: str, owner: str) -> None:
    async with sessions() as session:
        await session.execute(
            update(model)
            .where(model.id == row_id, model.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
            .execution_options(synchronize_session=False)
        )
        await session.commit()


@asynccontextmanager
async def held(
    sessions: async_sessionmaker[AsyncSession], model: Any, row_id: str, owner: str, ttl: timedelta
) -> AsyncIterator[bool]:
    """Take the lease (yields False when someone else holds it), renew it while the block runs, release it.

    Each hold has its own token: two jobs of one worker process exclude each other like two workers do.
    """
    owner = f"{owner}:{uuid.uuid4().hex[:12]}"
    if not await acquire(sessions, model, row_id, owner, ttl):
        yield False
        return

    async def renew() -> None:
        while True:
            await asyncio.sleep(ttl.total_seconds() / 3)
            await acquire(sessions, model, row_id, owner, ttl)

    renewer = asyncio.create_task(renew())
    try:
        yield True
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        await release(sessions, model, row_id, owner)
