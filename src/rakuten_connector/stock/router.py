"""Routes about a connection's stock: the per-SKU report and "Synch my stock with Rakuten"."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from rakuten_connector.connections import service as connections
from rakuten_connector.connections.schemas import ConnectionIdParam
from rakuten_connector.deps import CurrentPrincipal, JobsDep, SessionDep, limit_stock_sync
from rakuten_connector.kit.cursors import INVALID_CURSOR, KeyCursorQuery
from rakuten_connector.kit.errors import BODY_ERRORS, CONNECTION_READ_ERRORS, error_responses
from rakuten_connector.kit.rate_limits import RATE_LIMITED
from rakuten_connector.skus.suggestions import suggest
from rakuten_connector.stock import service
from rakuten_connector.stock.jobs import sync_run_job
from rakuten_connector.stock.models import StockItem, StockStatus, StockSync, SyncStatus
from rakuten_connector.stock.rules import PublishingRules
from rakuten_connector.stock.schemas import (
    StockItemOut,
    StockPage,
    StockSyncOut,
    StockSyncProgress,
    StockSyncQueued,
    StockSyncRequest,
    SuggestedMapping,
    SyncPhaseOut,
)

router = APIRouter(prefix="/v1/connections/{connection_id}", tags=["stock"])


def to_out(item: StockItem, rules: PublishingRules) -> StockItemOut:
    return StockItemOut(
        sku=item.sku,
        cubyn_sku=item.cubyn_sku or item.sku,
        wanted_quantity=item.wanted_quantity,
        published_quantity=rules.published(item.wanted_quantity),
        wanted_at=item.wanted_at,
        pushed_quantity=item.pushed_quantity,
        pushed_at=item.pushed_at,
        status=StockStatus(item.status),
        reason=item.reason,
    )


@router.get(
    "/stock",
    operation_id="stock.list",
    summary="The connection's stock, per Rakuten SKU",
    responses=error_responses(*CONNECTION_READ_ERRORS, INVALID_CURSOR),
)
async def list_stock(
    connection_id: ConnectionIdParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    status: Annotated[StockStatus | None, Query(description="Only the SKUs in this status.")] = None,
    sku: Annotated[str | None, Query(min_length=1, max_length=255, description="One SKU (exact).")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many SKUs (1 to 500).")] = 100,
    cursor: KeyCursorQuery = None,
) -> StockPage:
    """Per Rakuten SKU: the Cubyn SKU it follows, Cubyn's quantity and the one Rakuten should show, the last
    pushed quantity and when, and the status. In SKU order, a page at a time."""
    connection = await connections.get_visible(session, principal, connection_id)
    items, next_cursor = await service.list_items(session, connection.id, status, sku, limit, cursor)
    rules = PublishingRules.of(connection)
    return StockPage(items=[to_out(i, rules) for i in items], next_cursor=next_cursor)


@router.post(
    "/stock-syncs",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_stock_sync)],
    operation_id="stock.sync",
    summary="Synch my stock with Rakuten",
    response_description="The sync is queued: follow it with `stock.get_sync`.",
    responses=error_responses(
        *CONNECTION_READ_ERRORS,
        BODY_ERRORS,
        {
            409: (
                "stock_sync_running",
                "A stock sync is already queued or running; or `stock_sync_disabled`, `connection_paused`, "
                "`connection_disconnected`, `connection_credentials_invalid`.",
            )
        },
        RATE_LIMITED,
    ),
)
async def request_stock_sync(
    connection_id: ConnectionIdParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    jobs: JobsDep,
    body: StockSyncRequest | None = None,
) -> StockSyncQueued:
    """Compare Rakuten's whole inventory with Cubyn's catalogue and push every quantity that differs; the
    result also lists the SKUs found on one side only, with the mappings that would pair them."""
    connection = await connections.get_visible(session, principal, connection_id)
    sync = await service.request_sync(session, connection)
    jobs.add(sync_run_job(sync.id, sync.created_at))  # if Redis loses it, the stock tick starts the sync anyway
    await jobs.commit(session)
    return StockSyncQueued(id=sync.id, status=SyncStatus(sync.status))


async def sync_out(session: SessionDep, sync: StockSync) -> StockSyncOut:
    reading = sync.phase in (SyncPhaseOut.READING_RAKUTEN, SyncPhaseOut.READING_CUBYN)
    only_rakuten, only_cubyn = ([], []) if reading else await service.one_side_skus(session, sync.id)
    return StockSyncOut(
        id=sync.id,
        status=SyncStatus(sync.status),
        phase=SyncPhaseOut(sync.phase),
        trigger=sync.trigger,
        progress=StockSyncProgress(
            rakuten_skus=sync.rakuten_skus,
            cubyn_skus=sync.cubyn_skus,
            compared=sync.compared,
            to_update=sync.to_update,
            updated=sync.updated,
        ),
        only_on_rakuten=only_rakuten,
        only_on_cubyn=only_cubyn,
        suggested_mappings=[
            SuggestedMapping(rakuten_sku=s.rakuten_sku, cubyn_sku=s.cubyn_sku, rule=s.rule)
            for s in suggest(only_rakuten, only_cubyn)
        ],
        error=sync.error,
        created_at=sync.created_at,
        started_at=sync.started_at,
        finished_at=sync.finished_at,
    )


@router.get(
    "/stock-syncs/{sync_id}",
    operation_id="stock.get_sync",
    summary="A stock sync's progress and result",
    responses=error_responses(*CONNECTION_READ_ERRORS),
)
async def get_stock_sync(
    connection_id: ConnectionIdParam,
    sync_id: Annotated[str, Path(description="The sync's id, as `stock.sync` answered it.")],
    principal: CurrentPrincipal,
    session: SessionDep,
) -> StockSyncOut:
    """A sync's progress while it runs (its phase and counts), and its result: the SKUs on one side only
    and the suggested mappings once Rakuten and Cubyn are read."""
    connection = await connections.get_visible(session, principal, connection_id)
    sync = await service.get_sync(session, connection.id, sync_id)
    return await sync_out(session, sync)
