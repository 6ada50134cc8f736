"""Routes about orders: a connection's orders and imports, and every connection's orders for operators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections import service as connections
from rakuten_connector.connections.schemas import ConnectionIdParam
from rakuten_connector.connections.usable import must_be_live
from rakuten_connector.deps import (
    CurrentOperator,
    CurrentPrincipal,
    JobsDep,
    SessionDep,
    limit_import,
    limit_retry,
)
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.cursors import INVALID_CURSOR, PositionCursorQuery
from rakuten_connector.kit.errors import (
    BODY_ERRORS,
    CONNECTION_DISCONNECTED,
    CONNECTION_READ_ERRORS,
    CONNECTION_UNUSABLE,
    DATABASE_UNAVAILABLE,
    FORBIDDEN,
    UNAUTHORIZED,
    error_responses,
)
from rakuten_connector.kit.rate_limits import RATE_LIMITED
from rakuten_connector.orders import retries, service
from rakuten_connector.orders.jobs import retry_order_job
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.schemas import (
    Accepted,
    OrderDetail,
    OrderEventOut,
    OrderItemOut,
    OrderOut,
    OrderPage,
    RetriesQueued,
    RetriesRequest,
)

router = APIRouter(prefix="/v1/connections/{connection_id}", tags=["orders"])
operator_router = APIRouter(prefix="/v1/orders", tags=["orders"])

# A page of orders: at most PAGE_MAX of them, from where the cursor of the previous page says.
PAGE_MAX = 200
PageLimit = Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"At most this many orders (1 to {PAGE_MAX}).")]
StateFilter = Annotated[OrderState | None, Query(description="Only the orders in this state.")]
PurchaseIdParam = Annotated[str, Path(description="Rakuten's purchase id of the order (`purchase_id`).")]
# A retry queued for a disconnected connection would never run: the worker does nothing for it.


def to_out(order: Order) -> OrderOut:
    return OrderOut(
        purchase_id=order.purchase_id,
        connection_id=order.connection_id,
        state=OrderState(order.state),
        reason=order.reason,
        shipping_type=order.shipping_type,
        delivery_mode=order.delivery_mode,
        parcel_id=order.parcel_id,
        tracking_id=order.tracking_id,
        items=[
            OrderItemOut(
                item_id=item.item_id,
                sku=item.sku,
                cubyn_sku=item.cubyn_sku,
                status=item.rakuten_status,
                accepted_at=item.accepted_at,
                tracking_pushed_at=item.tracking_pushed_at,
            )
            for item in order.items
        ],
        purchased_at=order.purchased_at,
        imported_at=order.imported_at,
    )


async def detail_out(session: AsyncSession, order: Order) -> OrderDetail:
    """One order with its timeline, as `GET .../orders/{purchase_id}` answers it."""
    events = await service.timeline(session, order)
    return OrderDetail(
        **to_out(order).model_dump(),
        parcel_status=order.parcel_status,
        last_error=order.last_error,
        events=[OrderEventOut(at=e.at, kind=e.kind, message=e.message) for e in events],
    )


@router.post(
    "/imports",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_import)],
    operation_id="orders.import_now",
    summary="Import the connection's new sales now",
    response_description="The import is queued.",
    responses=error_responses(*CONNECTION_READ_ERRORS, {409: CONNECTION_UNUSABLE}, RATE_LIMITED),
)
async def import_now(
    connection_id: ConnectionIdParam, principal: CurrentPrincipal, session: SessionDep, jobs: JobsDep
) -> Accepted:
    """Import now, without waiting for the next tick: a worker reads the sales waiting on Rakuten and turns
    them into Cubyn parcels. Asking again while one is queued changes nothing."""
    connection = await connections.get_visible(session, principal, connection_id)
    jobs.add(service.request_import(connection))
    await jobs.commit(session)
    return Accepted()


@router.get(
    "/orders",
    operation_id="orders.list",
    summary="List the connection's orders",
    responses=error_responses(*CONNECTION_READ_ERRORS, INVALID_CURSOR),
)
async def list_orders(
    connection_id: ConnectionIdParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    state: StateFilter = None,
    limit: PageLimit = 50,
    cursor: PositionCursorQuery = None,
) -> OrderPage:
    """Imported and skipped orders, newest first, a page at a time: pass `next_cursor` back as `cursor`
    for the next page (null: the last page)."""
    connection = await connections.get_visible(session, principal, connection_id)
    orders, next_cursor = await service.list_orders(session, state, limit, cursor, connection_id=connection.id)
    return OrderPage(items=[to_out(o) for o in orders], next_cursor=next_cursor)


@router.post(
    "/orders/retries",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_retry)],
    operation_id="orders.retry_all",
    summary="Retry every failed (or needs-attention) order of the connection",
    responses=error_responses(*CONNECTION_READ_ERRORS, BODY_ERRORS, CONNECTION_DISCONNECTED, RATE_LIMITED),
)
async def retry_orders(
    connection_id: ConnectionIdParam,
    body: RetriesRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    jobs: JobsDep,
) -> RetriesQueued:
    """Retry every order of the connection in the state given, each as `.../orders/{purchase_id}/retry` does.
    An order whose retry (or another check) is already pending, or that a worker is working on, is left
    out; `queued` counts the retries queued. Written and queued a chunk of orders at a time."""
    connection = await connections.get_visible(session, principal, connection_id)
    must_be_live(connection)
    return RetriesQueued(queued=await retries.retry_every_order(session, jobs, connection.id, body.state))


@router.get(
    "/orders/{purchase_id}",
    operation_id="orders.get",
    summary="Read an order and its timeline",
    responses=error_responses(*CONNECTION_READ_ERRORS),
)
async def get_order(
    connection_id: ConnectionIdParam,
    purchase_id: PurchaseIdParam,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> OrderDetail:
    """The order, its items with their Rakuten status, its Cubyn parcel and tracking, the last error, and
    every step it went through (`events`), oldest first."""
    connection = await connections.get_visible(session, principal, connection_id)
    return await detail_out(session, await service.get_order(session, connection.id, purchase_id))


@router.post(
    "/orders/{purchase_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_retry)],
    operation_id="orders.retry",
    summary="Retry a failed or needs-attention order",
    response_description="The retry is queued.",
    responses=error_responses(
        *CONNECTION_READ_ERRORS,
        {409: ("order_not_retryable", "Only failed or needs-attention orders.")},
        CONNECTION_DISCONNECTED,
        RATE_LIMITED,
    ),
)
async def retry_order(
    connection_id: ConnectionIdParam,
    purchase_id: PurchaseIdParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    jobs: JobsDep,
) -> Accepted:
    """A worker takes the order's next step again (creating its parcel, or reading it from Cubyn) with its
    attempts counted from zero; its timeline says it was retried."""
    connection = await connections.get_visible(session, principal, connection_id)
    must_be_live(connection)
    order = await service.get_order(session, connection.id, purchase_id)
    service.request_retry(session, order)
    jobs.add(retry_order_job(order.id, utcnow()))
    await jobs.commit(session)
    return Accepted()


@operator_router.get(
    "",
    operation_id="orders.list_all",
    summary="List every connection's orders (operators)",
    responses=error_responses(UNAUTHORIZED, FORBIDDEN, INVALID_CURSOR, DATABASE_UNAVAILABLE),
)
async def list_all_orders(
    _: CurrentOperator,
    session: SessionDep,
    state: StateFilter = None,
    merchant_id: Annotated[str | None, Query(max_length=128, description="Only this merchant's.")] = None,
    connection_id: Annotated[str | None, Query(max_length=36, description="Only this connection's.")] = None,
    limit: PageLimit = 50,
    cursor: PositionCursorQuery = None,
) -> OrderPage:
    """Operators only: the orders of every connection, newest first; the filters given combine. Paged as
    `orders.list` is."""
    orders, next_cursor = await service.list_orders(
        session, state, limit, cursor, connection_id=connection_id or None, merchant_id=merchant_id or None
    )
    return OrderPage(items=[to_out(o) for o in orders], next_cursor=next_cursor)
