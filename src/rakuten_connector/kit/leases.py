"""Short database leases: "one worker at a time" for a row, on SQLite and PostgreSQL alike.

A lease is taken with one conditional UPDATE (free, expired, or already ours), so two workers racing
for it cannot both win; it expires by itself if its holder dies (SIGKILL), so nothing stays locked.
"""

from __future__ import annotations

import os
import socket
import uuid
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
