"""Database engine and sessions (SQLAlchemy 2 async): SQLite by default, PostgreSQL through asyncpg; the
statements both backends speak (INSERT ... ON CONFLICT) and retrying a transaction that lost a deadlock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import MetaData, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from rakuten_connector.kit.backoff import Backoff
from rakuten_connector.kit.columns import UTCDateTime
from rakuten_connector.kit.errors import sqlstate
from rakuten_connector.kit.retry import retry_transient
from rakuten_connector.kit.sqlite import BUSY_TIMEOUT_SECONDS, SQLiteConnection

__all__ = [
    "NAMING",
    "Base",
    "UTCDateTime",
    "create_engine",
    "insert_for",
    "insert_ignore",
    "is_deadlock",
    "retry_deadlocks",
    "session_factory",
]

T = TypeVar("T")
DEADLOCK_TRIES = Backoff(base=0.05, cap=0.5, max_attempts=5)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def create_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "factory": SQLiteConnection}
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_async_engine(
        url, pool_pre_ping=pre_ping, pool_size=pool_size, max_overflow=pool_size, pool_recycle=300
    )


def session_factory(
    engine: AsyncEngine, session_class: type[AsyncSession] = AsyncSession
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=session_class, expire_on_commit=False)


def insert_for(target: AsyncSession | AsyncConnection, table: Any) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_nothing` / `on_conflict_do_update` and `excluded`."""
    bind = target.get_bind() if isinstance(target, AsyncSession) else target
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


async def insert_ignore(
    session: AsyncSession, table: Any, values: dict[str, Any], conflict_columns: list[str]
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on both backends; True when the row was inserted."""
    statement = insert_for(session, table).values(**values).on_conflict_do_nothing(index_elements=conflict_columns)
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


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

    async def start_again() -> None:
        if session is not None:
            await session.rollback()
        if reload is not None:
            await reload()

    return await retry_transient(
        work,
        (DBAPIError,),
        DEADLOCK_TRIES,
        when=lambda exc: isinstance(exc, DBAPIError) and is_deadlock(exc),
        before_retry=start_again,
    )
