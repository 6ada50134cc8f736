"""Routes about a connection's orders and imports."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from rakuten_connector.connections import service as connections
from rakuten_connector.connections.usable import must_take_work
from rakuten_connector.deps import CurrentPrincipal, JobsDep, SessionDep, limit_import, limit_retry
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import CONNECTION_UNUSABLE, NOT_FOUND, error_responses
from rakuten_connector.kit.rate_limits import RATE_LIMITED_RESPONSE
from rakuten_connector.orders import service
from rakuten_connector.orders.jobs import import_now_job, retry_order_job
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.schemas import (
    Accepted,
    OrderDetail,
    OrderEventOut,
    OrderItemOut,
    OrderOut,
    OrderPage,
)

router = APIRouter(prefix="/v1/connections/{connection_id}", tags=["orders"])


def to_out(order: Order) -> OrderOut:
    return OrderOut(
        purchase_id=order.purchase_id,
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
                status=item.rakuten_status,
                accepted_at=item.accepted_at,
                tracking_pushed_at=item.tracking_pushed_at,
            )
            for item in order.items
        ],
        purchased_at=order.purchased_at,
        imported_at=order.imported_at,
    )


@router.post(
    "/imports",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_import)],
    responses={**error_responses({**NOT_FOUND, 409: CONNECTION_UNUSABLE}), **RATE_LIMITED_RESPONSE},
)
async def import_now(
    connection_id: str, principal: CurrentPrincipal, session: SessionDep, jobs: JobsDep
) -> Accepted:
    """Import now, without waiting for the next tick."""
    connection = await connections.get_visible(session, principal, connection_id)
    must_take_work(connection)
    now = utcnow()
    connection.next_import_at = now  # the scheduler picks it up even if Redis loses the job
    jobs.add(import_now_job(connection.id, now))
    await jobs.commit(session)
    return Accepted()


@router.get(
    "/orders",
    responses=error_responses({**NOT_FOUND, 400: ("invalid_cursor", "The cursor is not one this API gave.")}),
)
async def list_orders(
    connection_id: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    state: OrderState | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> OrderPage:
    """Imported and skipped orders, newest first."""
    connection = await connections.get_visible(session, principal, connection_id)
    orders, next_cursor = await service.list_orders(session, connection.id, state, limit, cursor)
    return OrderPage(items=[to_out(o) for o in orders], next_cursor=next_cursor)


@router.get("/orders/{purchase_id}", responses=error_responses(NOT_FOUND))
async def get_order(
    connection_id: str, purchase_id: str, principal: CurrentPrincipal, session: SessionDep
) -> OrderDetail:
    connection = await connections.get_visible(session, principal, connection_id)
    order = await service.get_order(session, connection.id, purchase_id)
    events = await service.timeline(session, order)
    return OrderDetail(
        **to_out(order).model_dump(),
        parcel_status=order.parcel_status,
        last_error=order.last_error,
        events=[OrderEventOut(at=e.at, kind=e.kind, message=e.message) for e in events],
    )


@router.post(
    "/orders/{purchase_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_retry)],
    responses={
        **error_responses({**NOT_FOUND, 409: ("order_not_retryable", "Only failed or needs-attention orders.")}),
        **RATE_LIMITED_RESPONSE,
    },
)
async def retry_order(
    connection_id: str, purchase_id: str, principal: CurrentPrincipal, session: SessionDep, jobs: JobsDep
) -> Accepted:
    """Retry a failed or needs-attention order."""
    connection = await connections.get_visible(session, principal, connection_id)
    order = await service.get_order(session, connection.id, purchase_id)
    service.request_retry(session, order)
    jobs.add(retry_order_job(order.id, utcnow()))
    await jobs.commit(session)
    return Accepted()
