"""A full sync's comparison, set-based SQL over the entries read and the connection's SKU rows.

The catalogue's quantities replace older wanted quantities (never newer ones: an event after the read
wins), SKUs Cubyn has but the connector never saw are added, and each SKU's published quantity (under the
connection's publishing rules) is compared with Rakuten's: different ones are pushed, equal ones settled.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import ColumnElement, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import insert_for
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.stock.models import StockItem, StockStatus, StockSync, StockSyncEntry, SyncPhase
from rakuten_connector.stock.rules import PublishingRules
from rakuten_connector.stock.scheduling import touch_state
from rakuten_connector.stock.sync_reading import count_entries

log = structlog.get_logger(__name__)


def _on_both_sides(sync: StockSync) -> tuple[ColumnElement[bool], ...]:
    """The sync's entries found on Rakuten and on Cubyn."""
    entry = StockSyncEntry
    return (entry.sync_id == sync.id, entry.on_rakuten.is_(True), entry.on_cubyn.is_(True))


def _with_their_items(sync: StockSync) -> tuple[ColumnElement[bool], ...]:
    """Those entries, each with the SKU row it is about."""
    return (
        *_on_both_sides(sync),
        StockItem.connection_id == sync.connection_id,
        StockItem.sku == StockSyncEntry.sku,
    )


async def _fold_catalogue(
    session: AsyncSession, sync: StockSync, read_at: datetime, skew: timedelta, now: datetime
) -> None:
    entry, item = StockSyncEntry, StockItem
    changed = item.wanted_quantity != entry.cubyn_quantity
    # The catalogue is newer than what older events said: it replaces them.
    await session.execute(
        update(item)
        .where(*_with_their_items(sync), (item.wanted_at.is_(None)) | (item.wanted_at < read_at))
        .values(
            cubyn_sku=entry.follows,
            wanted_quantity=entry.cubyn_quantity,
            wanted_at=read_at,
            version=case((changed, item.version + 1), else_=item.version),
            status=case((changed, StockStatus.PENDING.value), else_=item.status),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    # Events too close to the read to tell which came first: the lower quantity wins, the event's time stays.
    await session.execute(
        update(item)
        .where(
            *_with_their_items(sync),
            item.wanted_at >= read_at,
            item.wanted_at <= read_at + 2 * skew,
            entry.cubyn_quantity < item.wanted_quantity,
        )
        .values(
            wanted_quantity=entry.cubyn_quantity,
            version=item.version + 1,
            status=StockStatus.PENDING.value,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def compare(session: AsyncSession, sync: StockSync, skew: timedelta) -> None:
    """Fold the sync into the SKUs (set-based SQL): catalogue quantities replace older wanted quantities,
    SKUs that differ from Rakuten become pending, equal ones are settled; the SKUs to push are noted.

    The read time is the connector's clock and event times are Cubyn's: within `skew` of the read, which
    came first is unknown, so the lower quantity wins (never oversell) and a later event still wins."""
    read_at = (sync.catalog_read_at or utcnow()) - skew
    now = utcnow()
    await _insert_new_skus(session, sync, read_at, now)
    await _fold_catalogue(session, sync, read_at, skew, now)
    connection = await session.get_one(Connection, sync.connection_id)
    await _settle_against_rakuten(session, sync, PublishingRules.of(connection), now)
    entry = StockSyncEntry
    sync.compared = await count_entries(session, sync.id, entry.on_rakuten, entry.on_cubyn)
    sync.to_update = await count_entries(session, sync.id, entry.push_version.is_not(None))
    sync.phase = SyncPhase.PUSHING.value
    await touch_state(session, sync.connection_id, now)
    await session.commit()
    log.info("stock_sync_compared", sync_id=sync.id, compared=sync.compared, to_update=sync.to_update)


async def _insert_new_skus(session: AsyncSession, sync: StockSync, read_at: datetime, now: datetime) -> None:
    """SKUs never seen before: wanted = Cubyn's quantity as of the read."""
    entry, item = StockSyncEntry, StockItem
    columns = [
        "connection_id",
        "sku",
        "cubyn_sku",
        "wanted_quantity",
        "wanted_at",
        "version",
        "pushed_version",
        "status",
        "updated_at",
    ]
    rows = select(
        literal(sync.connection_id, item.connection_id.type),
        entry.sku,
        entry.follows,
        entry.cubyn_quantity,
        literal(read_at, item.wanted_at.type),
        literal(1),
        literal(0),
        literal(StockStatus.PENDING.value, item.status.type),
        literal(now, item.updated_at.type),
    ).where(*_on_both_sides(sync))
    statement = insert_for(session, item.__table__).from_select(columns, rows)
    await session.execute(statement.on_conflict_do_nothing(index_elements=["connection_id", "sku"]))


async def _settle_against_rakuten(
    session: AsyncSession, sync: StockSync, rules: PublishingRules, now: datetime
) -> None:
    """Compare each SKU's published quantity (its wanted quantity under the connection's rules) with what the
    sync read on Rakuten, and note what to wait for."""
    entry, item = StockSyncEntry, StockItem
    matched = _with_their_items(sync)
    published = rules.published_sql(item.wanted_quantity)
    differs = entry.rakuten_quantity.is_distinct_from(published)
    # Different on Rakuten and settled (pushed, or rejected: the sync found it on Rakuten): push again.
    await session.execute(
        update(item)
        .where(*matched, item.version == item.pushed_version, differs)
        .values(version=item.version + 1, status=StockStatus.PENDING.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    # Equal on Rakuten and not in a file: nothing to push.
    await session.execute(
        update(item)
        .where(
            *matched,
            item.file_id.is_(None),
            entry.rakuten_quantity == published,
            (item.status != StockStatus.PUSHED.value) | (item.pushed_version != item.version),
        )
        .values(pushed_version=item.version, status=StockStatus.PUSHED.value, reason=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    # What this sync waits for: each differing SKU's version reaching Rakuten.
    await session.execute(
        update(entry)
        .where(*matched, differs)
        .values(push_version=item.version)
        .execution_options(synchronize_session=False)
    )
