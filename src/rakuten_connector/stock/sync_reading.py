"""A full sync's reading: Rakuten's export and Cubyn's catalogue, streamed into `stock_sync_entries`.

Entries are named by Rakuten SKU. Cubyn's quantity of a product goes to every Rakuten SKU that follows it
(its own spelling, and the Rakuten SKUs a mapping sells as it), so the comparison is SKU by SKU; an entry
that follows another spelling says which in `follows`. Memory stays flat: entries are written in batches.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import insert_for
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.skus.service import FollowerIndex, every_mapping
from rakuten_connector.stock.models import StockSync, StockSyncEntry, SyncPhase

BATCH = 2000


async def count_entries(session: AsyncSession, sync_id: str, *conditions: Any) -> int:
    query = select(func.count()).select_from(StockSyncEntry).where(StockSyncEntry.sync_id == sync_id, *conditions)
    return int(await session.scalar(query) or 0)


async def _start_reading(session: AsyncSession, sync: StockSync, phase: SyncPhase, watchdog: timedelta) -> None:
    sync.phase = phase.value
    sync.next_run_at = utcnow() + watchdog
    await session.commit()


async def read_rakuten(rt: Runtime, session: AsyncSession, connection: Connection, sync: StockSync) -> None:
    """Rakuten's whole inventory, streamed page after page, written in batches (first SKU spelling wins)."""
    watchdog = timedelta(seconds=2 * rt.settings.lease_seconds)
    await session.execute(delete(StockSyncEntry).where(StockSyncEntry.sync_id == sync.id))
    sync.rakuten_skus = sync.cubyn_skus = sync.compared = sync.to_update = sync.updated = 0
    await _start_reading(session, sync, SyncPhase.READING_RAKUTEN, watchdog)
    batch: dict[str, int | None] = {}
    async for advert in rt.rakuten(connection).iter_export():
        if advert.sku and advert.sku not in batch:
            batch[advert.sku] = advert.stock
        if len(batch) >= BATCH:
            await _write_rakuten(session, sync, batch, watchdog)
            batch = {}
    await _write_rakuten(session, sync, batch, watchdog)
    sync.rakuten_skus = await count_entries(session, sync.id, StockSyncEntry.on_rakuten)
    await session.commit()


async def _write_rakuten(
    session: AsyncSession, sync: StockSync, batch: dict[str, int | None], watchdog: timedelta
) -> None:
    if batch:
        rows = [
            {"sync_id": sync.id, "sku": sku, "on_rakuten": True, "rakuten_quantity": quantity, "on_cubyn": False}
            for sku, quantity in batch.items()
        ]
        statement = insert_for(session, StockSyncEntry.__table__).on_conflict_do_nothing(
            index_elements=["sync_id", "sku"]
        )
        await session.execute(statement, rows)  # executemany: compiled once, not once per batch
        sync.rakuten_skus += len(rows)
    sync.next_run_at = utcnow() + watchdog
    await session.commit()


async def read_cubyn(rt: Runtime, session: AsyncSession, connection: Connection, sync: StockSync) -> None:
    """Cubyn's whole catalogue, every page. Its quantities are as of when the reading began."""
    watchdog = timedelta(seconds=2 * rt.settings.lease_seconds)
    sync.catalog_read_at = utcnow()
    await _start_reading(session, sync, SyncPhase.READING_CUBYN, watchdog)
    followers = FollowerIndex(await every_mapping(session, connection.id))
    batch: dict[str, int] = {}
    async for product in rt.cubyn(connection).iter_catalog():
        if product.sku:
            batch[product.sku] = max(0, product.stock.available)
        if len(batch) >= BATCH:
            await _write_cubyn(session, sync, batch, followers, watchdog)
            batch = {}
    await _write_cubyn(session, sync, batch, followers, watchdog)
    entry = StockSyncEntry
    sync.cubyn_skus = int(
        await session.scalar(
            select(func.count(func.distinct(func.coalesce(entry.follows, entry.sku)))).where(
                entry.sync_id == sync.id, entry.on_cubyn
            )
        )
        or 0
    )
    sync.phase = SyncPhase.COMPARING.value
    await session.commit()


async def _write_cubyn(
    session: AsyncSession, sync: StockSync, batch: dict[str, int], followers: FollowerIndex, watchdog: timedelta
) -> None:
    """Each product's quantity, written for every Rakuten SKU that follows it."""
    if batch:
        rows = [
            {
                "sync_id": sync.id,
                "sku": rakuten_sku,
                "on_rakuten": False,
                "on_cubyn": True,
                "cubyn_quantity": quantity,
                "follows": None if rakuten_sku == cubyn_sku else cubyn_sku,
            }
            for cubyn_sku, quantity in batch.items()
            for rakuten_sku in followers.of(cubyn_sku)
        ]
        statement = insert_for(session, StockSyncEntry.__table__)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["sync_id", "sku"],
            set_={"on_cubyn": True, "cubyn_quantity": new.cubyn_quantity, "follows": new.follows},
        )
        if rows:
            await session.execute(statement, rows)
        sync.cubyn_skus += len(batch)
    sync.next_run_at = utcnow() + watchdog
    await session.commit()
