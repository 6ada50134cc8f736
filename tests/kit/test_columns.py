"""Column types that read back the same on every backend: a UTC datetime stays aware and in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Column, Integer, MetaData, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from rakuten_connector.kit.columns import UTCDateTime

TABLE = Table("moments", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))


async def test_a_time_written_in_any_zone_reads_back_aware_in_utc(engine: AsyncEngine) -> None:
    paris = datetime(2026, 12, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    naive = datetime(2026, 12, 1, 12, 0)  # taken as UTC
    async with engine.begin() as connection:
        await connection.run_sync(TABLE.create)
        try:
            await connection.execute(
                insert(TABLE), [{"id": 1, "at": paris}, {"id": 2, "at": naive}, {"id": 3, "at": None}]
            )
            rows = {row.id: row.at for row in await connection.execute(select(TABLE.c.id, TABLE.c.at))}
        finally:
            await connection.run_sync(TABLE.drop)
    assert rows == {
        1: datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        2: datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        3: None,
    }
    assert all(value is None or value.tzinfo is UTC for value in rows.values())
