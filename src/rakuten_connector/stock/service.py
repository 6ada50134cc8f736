"""Stock queries and requests of the routes, and the hooks other domains call. Services never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.usable import must_take_work
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.cursors import decode_cursor, encode_cursor, fetch_page
from rakuten_connector.kit.errors import ApiError, NotFound
from rakuten_connector.stock.models import (
    ACTIVE_SYNC,
    StockItem,
    StockStatus,
    StockSync,
    StockSyncEntry,
)
from rakuten_connector.stock.rules import PublishingRules
from rakuten_connector.stock.scheduling import touch_state


async def list_items(
    session: AsyncSession,
    connection_id: str,
    status: StockStatus | None,
    sku: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[StockItem], str | None]:
    """SKUs in SKU order, `limit` at a time."""
    query = select(StockItem).where(StockItem.connection_id == connection_id).order_by(StockItem.sku)
    if status is not None:
        query = query.where(StockItem.status == status.value)
    if sku is not None:
        query = query.where(StockItem.sku == sku)
    if cursor:
        query = query.where(StockItem.sku > decode_cursor(cursor, 1)[0])
    return await fetch_page(session, query, limit, lambda item: encode_cursor([item.sku]))


def _must_be_able_to_sync(connection: Connection) -> None:
    must_take_work(connection)
    if not connection.stock_sync_enabled:
        raise ApiError(
            409, "stock_sync_disabled", "Stock update is turned off for this connection: turn it on first."
        )


def _already_running(sync_id: str | None) -> ApiError:
    return ApiError(
        409,
        "stock_sync_running",
        "A stock sync is already queued or running for this connection.",
        {"id": sync_id},
    )


async def request_sync(session: AsyncSession, connection: Connection) -> StockSync:
    """Queue a full sync; 409 when one is queued or running (the partial unique index decides races)."""
    _must_be_able_to_sync(connection)
    running = await session.scalar(
        select(StockSync.id).where(StockSync.connection_id == connection.id, StockSync.status.in_(ACTIVE_SYNC))
    )
    if running is not None:
        raise _already_running(running)
    sync = StockSync(connection_id=connection.id, trigger="manual", created_at=utcnow(), next_run_at=utcnow())
    session.add(sync)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise _already_running(None) from None
    return sync


async def get_sync(session: AsyncSession, connection_id: str, sync_id: str) -> StockSync:
    sync = await session.get(StockSync, sync_id) if len(sync_id) <= 36 else None
    if sync is None or sync.connection_id != connection_id:
        raise NotFound("stock sync")
    return sync


def _cubyn_sku_of_entry() -> ColumnElement[str]:
    return func.coalesce(StockSyncEntry.follows, StockSyncEntry.sku)


def followed_from_rakuten(sync_id: str) -> Select[str]:
    """The Cubyn SKUs some Rakuten SKU of the sync's reading follows."""
    entry = StockSyncEntry
    return select(_cubyn_sku_of_entry()).where(entry.sync_id == sync_id, entry.on_rakuten, entry.on_cubyn)


async def one_side_skus(session: AsyncSession, sync_id: str) -> tuple[list[str], list[str]]:
    """(Rakuten SKUs whose Cubyn SKU Cubyn does not have, Cubyn SKUs no Rakuten SKU follows), each sorted."""
    entry = StockSyncEntry
    only_rakuten = await session.scalars(
        select(entry.sku).where(entry.sync_id == sync_id, entry.on_rakuten, ~entry.on_cubyn).order_by(entry.sku)
    )
    cubyn_sku = _cubyn_sku_of_entry()
    only_cubyn = await session.scalars(
        select(cubyn_sku)
        .where(
            entry.sync_id == sync_id,
            entry.on_cubyn,
            ~entry.on_rakuten,
            cubyn_sku.not_in(followed_from_rakuten(sync_id)),
        )
        .distinct()
        .order_by(cubyn_sku)
    )
    return list(only_rakuten), list(only_cubyn)


async def resume_pushes(session: AsyncSession, connection_id: str) -> None:
    """Stock update turned back on (or the connection resumed): push the current quantity of every SKU
    Rakuten took before (Rakuten may have changed since); rejected SKUs wait for a change, as always."""
    await session.execute(
        update(StockItem)
        .where(
            StockItem.connection_id == connection_id,
            StockItem.status == StockStatus.PUSHED.value,
            StockItem.file_id.is_(None),
        )
        .values(version=StockItem.version + 1, status=StockStatus.PENDING.value)
        .execution_options(synchronize_session=False)
    )
    await touch_state(session, connection_id, utcnow())


async def rules_changed(
    session: AsyncSession, connection_id: str, before: PublishingRules, after: PublishingRules
) -> None:
    """The buffer or the cap changed: every SKU whose published quantity changes is pushed again (as one
    more version: a file in flight with the old quantity is followed by one with the new)."""
    item = StockItem
    await session.execute(
        update(item)
        .where(
            item.connection_id == connection_id,
            before.published_sql(item.wanted_quantity) != after.published_sql(item.wanted_quantity),
        )
        .values(version=item.version + 1, status=StockStatus.PENDING.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await touch_state(session, connection_id, utcnow())
