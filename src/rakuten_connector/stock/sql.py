"""Statements both backends speak: INSERT ... ON CONFLICT, and retrying a transaction that lost a deadlock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.kit.backoff import Backoff
from rakuten_connector.kit.errors import sqlstate

T = TypeVar("T")
DEADLOCK_TRIES = Backoff(base=0.05, cap=0.5, max_attempts=5)


def insert_for(session: AsyncSession, table: Any) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update` and `excluded`."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def is_deadlock(exc: DBAPIError) -> bool:
    return sqlstate(exc) in ("40P01", "40001") or "deadlock" in str(exc.orig).lower()


async def retry_deadlocks(
    work: Callable[[], Awaitable[T]],
    session: AsyncSession | None = None,
    reload: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """Run `work` (which commits) again when the database chose it as a deadlock victim. When `work` uses
    `session`, it is rolled back first, which expires every object of the session: `reload` refreshes those
    the caller keeps using."""
    attempt = 1
    while True:
        try:
            return await work()
        except DBAPIError as exc:
            if DEADLOCK_TRIES.exhausted(attempt) or not is_deadlock(exc):
                raise
            if session is not None:
                await session.rollback()
            if reload is not None:
                await reload()
            await asyncio.sleep(DEADLOCK_TRIES.seconds(attempt))
            attempt += 1
