"""Rows the unit tests need in the database, with defaults that say nothing in particular."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection


async def add_connection(sessions: async_sessionmaker[AsyncSession], **fields: object) -> str:
    """A connection row (active, seller `s` unless told otherwise); returns its id."""
    values: dict[str, object] = {"merchant_id": "m", "name": "n", "seller_id": "s", "seller_key": "s"}
    async with sessions() as session:
        connection = Connection(**(values | fields))
        session.add(connection)
        await session.commit()
        return connection.id
