"""The full sync's compare step against the SKUs' watermarks, with Cubyn's clock not quite the connector's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.stock.events import Wanted, set_wanted
from rakuten_connector.stock.models import StockItem, StockSync, StockSyncEntry, SyncPhase
from rakuten_connector.stock.sync_comparison import compare

READ_AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
SKEW = timedelta(seconds=120)


async def _compare_after_event(
    sessions: async_sessionmaker[AsyncSession], event_at: datetime, event_quantity: int, catalogue: int
) -> int:
    async with sessions() as session:
        connection = Connection(merchant_id="m", name="n", seller_id="s", seller_key="s")
        session.add(connection)
        await session.flush()
        await set_wanted(session, connection.id, [Wanted("A", event_quantity, event_at)])
        sync = StockSync(connection_id=connection.id, phase=SyncPhase.COMPARING.value, catalog_read_at=READ_AT)
        session.add(sync)
        await session.flush()
        session.add(
            StockSyncEntry(
                sync_id=sync.id,
                sku="A",
                on_rakuten=True,
                rakuten_quantity=7,
                on_cubyn=True,
                cubyn_quantity=catalogue,
            )
        )
        await session.commit()
        await compare(session, sync, SKEW)
        await session.commit()
        item = await session.scalar(select(StockItem).where(StockItem.sku == "A"))
        assert item is not None
        return item.wanted_quantity


@pytest.mark.parametrize(
    ("event_at", "event_quantity", "catalogue", "wanted"),
    [
        (READ_AT - timedelta(seconds=30), 3, 5, 3),  # Cubyn's clock behind: maybe after the read, lower wins
        (READ_AT - timedelta(seconds=30), 9, 5, 5),  # maybe before: the lower, the catalogue's, wins
        (READ_AT + timedelta(seconds=30), 9, 5, 5),
        (READ_AT - timedelta(minutes=10), 3, 5, 5),  # clearly older: the catalogue replaces it
        (READ_AT + timedelta(minutes=10), 9, 5, 9),  # clearly newer: the event stays
    ],
    ids=["close-before-lower", "close-before-higher", "close-after-higher", "long-before", "long-after"],
)
async def test_the_catalogue_and_an_event_close_to_its_read_are_not_ordered_by_two_clocks(
    sessions: async_sessionmaker[AsyncSession],
    event_at: datetime,
    event_quantity: int,
    catalogue: int,
    wanted: int,
) -> None:
    assert await _compare_after_event(sessions, event_at, event_quantity, catalogue) == wanted
