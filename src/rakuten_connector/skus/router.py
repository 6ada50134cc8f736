"""`/v1/connections/{id}/sku-mappings`: read and change which Cubyn SKU a Rakuten SKU is sold as."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rakuten_connector.connections import service as connections
from rakuten_connector.connections.schemas import ConnectionIdParam
from rakuten_connector.connections.usable import must_be_live
from rakuten_connector.deps import CurrentPrincipal, JobsDep, SessionDep
from rakuten_connector.kit.cursors import INVALID_CURSOR, KeyCursorQuery
from rakuten_connector.kit.errors import (
    BODY_ERRORS,
    CONNECTION_DISCONNECTED,
    CONNECTION_READ_ERRORS,
    DATABASE_UNAVAILABLE,
    NOT_FOUND,
    UNAUTHORIZED,
    error_responses,
)
from rakuten_connector.skus import service
from rakuten_connector.skus.schemas import SkuMappingOut, SkuMappingPage, SkuMappingPatch, SkuMappingPatched
from rakuten_connector.stock.follows import follow_new_targets
from rakuten_connector.stock.jobs import sync_run_job

router = APIRouter(prefix="/v1/connections/{connection_id}", tags=["sku mappings"])


@router.get(
    "/sku-mappings",
    operation_id="sku_mappings.list",
    summary="The connection's SKU mappings",
    responses=error_responses(*CONNECTION_READ_ERRORS, INVALID_CURSOR),
)
async def list_sku_mappings(
    connection_id: ConnectionIdParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many mappings (1 to 500).")] = 100,
    cursor: KeyCursorQuery = None,
) -> SkuMappingPage:
    """The connection's SKU mappings in Rakuten SKU order, a page at a time: each says which Cubyn SKU a
    Rakuten SKU is sold as (its parcels carry it, its stock follows it)."""
    connection = await connections.get_visible(session, principal, connection_id)
    rows, next_cursor = await service.list_page(session, connection.id, limit, cursor)
    return SkuMappingPage(
        items=[
            SkuMappingOut(rakuten_sku=r.rakuten_sku, cubyn_sku=r.cubyn_sku, updated_at=r.updated_at) for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.patch(
    "/sku-mappings",
    operation_id="sku_mappings.update",
    summary="Map Rakuten SKUs to Cubyn SKUs",
    responses=error_responses(
        UNAUTHORIZED,
        BODY_ERRORS,
        NOT_FOUND,
        CONNECTION_DISCONNECTED,
        DATABASE_UNAVAILABLE,
    ),
)
async def patch_sku_mappings(
    connection_id: ConnectionIdParam,
    body: SkuMappingPatch,
    principal: CurrentPrincipal,
    session: SessionDep,
    jobs: JobsDep,
) -> SkuMappingPatched:
    """Map Rakuten SKUs to Cubyn SKUs (a JSON merge patch: null deletes; at most 10,000 keys). Sales are
    imported under the Cubyn SKU, and the SKUs whose Cubyn SKU changed have their stock pushed again."""
    connection = await connections.get_visible(session, principal, connection_id)
    must_be_live(connection)
    result = await service.apply_patch(session, connection.id, body.root)
    sync = await follow_new_targets(session, connection, result.changed)
    if sync is not None:
        jobs.add(sync_run_job(sync.id, sync.created_at))
    await jobs.commit(session)
    return SkuMappingPatched(upserted=result.upserted, deleted=result.deleted)
