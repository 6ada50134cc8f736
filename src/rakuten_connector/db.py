"""Database engine and sessions (SQLAlchemy 2 async): SQLite by default, PostgreSQL through asyncpg."""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

from rakuten_connector.kit.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[Any]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else as_utc(value)


class SQLiteConnection(sqlite3.Connection):
    """A SQLite connection whose `close()` really closes it, releasing its locks at once.

    SQLite keeps a closed connection alive as a "zombie", with its open transaction and its write lock,
    while any of its statements is unfinalized. A task cancelled between the two steps of a statement that
    returns rows (SQLAlchemy's async cursor executes, then fetches, in two trips to the driver's thread:
    `UPDATE ... RETURNING`, ORM inserts returning their ids) leaves such a statement behind; SQLAlchemy
    then closes the connection, yet the write lock stays until the garbage collector happens to free the
    cursor, and every other writer waits `busy_timeout` and fails with "database is locked". Closing the
    connection's cursors first finalizes their statements, so the close rolls back and unlocks.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursors: weakref.WeakSet[sqlite3.Cursor] = weakref.WeakSet()

    def cursor(self, factory: Any = sqlite3.Cursor) -> Any:
        opened = super().cursor(factory)
        self._cursors.add(opened)
        return opened

    def close(self) -> None:
        for opened in list(self._cursors):
            try:
                opened.close()
            except sqlite3.Error:
                continue  # the connection is going away anyway: close what can be closed
        super().close()


SQLITE_BUSY_TIMEOUT_SECONDS = 30


def create_engine(url: str, *, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "factory": SQLiteConnection}
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
            cursor.close()

        return engine
    return create_async_engine(
        url, pool_pre_ping=pre_ping, pool_size=pool_size, max_overflow=pool_size, pool_recycle=300
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; the route commits, an error rolls back."""
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with factory() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def insert_ignore(
    session: AsyncSession, table: Any, values: dict[str, Any], conflict_columns: list[str]
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on both backends; True when the row was inserted."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict_columns)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict_columns)
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)
