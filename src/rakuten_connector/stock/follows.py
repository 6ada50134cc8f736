"""A SKU mapping changed: the Rakuten SKUs it concerns follow their new Cubyn SKU's quantity from now on.

The quantity a Cubyn SKU has is known when some SKU of the connection already follows it (every follower
gets the same events): the remapped SKU takes it, as one more version, so it is pushed (coalesced with the
rest of the connection's stock as usual). A Cubyn SKU nothing follows yet has no known quantity: the SKU
says so (`wanted_at` is cleared: its old quantity is not pushed again, and the next event of its new Cubyn
SKU applies whatever its time) and a full sync is queued to read it (Cubyn's catalogue is the only place it
can come from). When a sync is already under way, it queues the next one as it ends (`sync_after_mapping`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import cast

import structlog
from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.stock.events import Wanted, set_wanted
from rakuten_connector.stock.models import ACTIVE_SYNC, StockItem, StockSync
from rakuten_connector.stock.scheduling import touch_state

log = structlog.get_logger(__name__)

CHUNK = 500


async def known_quantities(
    session: AsyncSession, connection_id: str, cubyn_skus: set[str]
) -> dict[str, tuple[int, datetime]]:
    """Cubyn SKU -> its newest known (quantity, time), from the SKUs that already follow it."""
    item = StockItem
    follows = func.coalesce(item.cubyn_sku, item.sku)
    known: dict[str, tuple[int, datetime]] = {}
    skus = sorted(cubyn_skus)
    for start in range(0, len(skus), CHUNK):
        chunk = skus[start : start + CHUNK]
        rows = await session.execute(
            select(follows, item.wanted_quantity, item.wanted_at).where(
                item.connection_id == connection_id,
                item.wanted_at.is_not(None),
                or_(item.cubyn_sku.in_(chunk), and_(item.cubyn_sku.is_(None), item.sku.in_(chunk))),
            )
        )
        for cubyn_sku, quantity, at in rows:
            if at is not None and (cubyn_sku not in known or known[cubyn_sku][1] < at):
                known[cubyn_sku] = (quantity, at)
    return known


async def follow_new_targets(
    session: AsyncSession, connection: Connection, changed: Mapping[str, str]
) -> StockSync | None:
    """`changed`: Rakuten SKU -> the Cubyn SKU it follows now. Returns the full sync it queued, if any."""
    if not changed:
        return None
    known = await known_quantities(session, connection.id, set(changed.values()))
    now = utcnow()
    rows = [
        {"b_sku": rakuten, "b_follows": None if cubyn == rakuten else cubyn}
        for rakuten, cubyn in sorted(changed.items())
        if cubyn not in known
    ]
    # Every SKU whose new Cubyn SKU has no known quantity says whom it follows now, and that its quantity
    # is unknown; the others are upserted with the quantity below.
    items = cast(Table, StockItem.__table__)
    for start in range(0, len(rows), CHUNK):
        await session.execute(
            update(items)
            .where(items.c.connection_id == connection.id, items.c.sku == bindparam("b_sku"))
            .values(cubyn_sku=bindparam("b_follows"), wanted_at=None, updated_at=now),
            rows[start : start + CHUNK],
        )
    taken = [
        Wanted(rakuten, *known[cubyn], cubyn_sku=None if cubyn == rakuten else cubyn)
        for rakuten, cubyn in changed.items()
        if cubyn in known
    ]
    await set_wanted(session, connection.id, taken, over_newer=True)
    sync = await queue_full_sync(session, connection) if len(taken) < len(changed) else None
    await touch_state(session, connection.id, now)
    return sync


async def queue_full_sync(session: AsyncSession, connection: Connection) -> StockSync | None:
    """A full sync to read the quantities nobody knows yet; None when one is already queued or running."""
    if not (connection.may_call_rakuten and connection.stock_sync_enabled):
        return None
    # A sync under way is locked until this transaction commits: its end (`sync_after_mapping`, after its
    # own update of that row) then sees what this transaction wrote and queues the sync that reads it.
    active = await session.scalar(
        select(StockSync.id)
        .where(StockSync.connection_id == connection.id, StockSync.status.in_(ACTIVE_SYNC))
        .with_for_update()
    )
    if active is not None:
        return None
    now = utcnow()
    sync = StockSync(connection_id=connection.id, trigger="mapping", created_at=now, next_run_at=now)
    try:
        async with session.begin_nested():
            session.add(sync)
    except IntegrityError:
        return None
    log.info("stock_sync_queued_for_mappings", connection_id=connection.id, sync_id=sync.id)
    return sync


async def sync_after_mapping(session: AsyncSession, sync: StockSync) -> StockSync | None:
    """A sync just ended: if a mapping made a SKU follow an unknown Cubyn SKU after it read Cubyn's catalogue,
    the next sync reads it (a SKU Cubyn did not have at a later read waits for its first event instead)."""
    read_at = sync.catalog_read_at or sync.created_at
    unknown = await session.scalar(
        select(StockItem.id)
        .where(
            StockItem.connection_id == sync.connection_id,
            StockItem.wanted_at.is_(None),
            StockItem.updated_at > read_at,
        )
        .limit(1)
    )
    connection = await session.get(Connection, sync.connection_id)
    if unknown is None or connection is None:
        return None
    return await queue_full_sync(session, connection)
