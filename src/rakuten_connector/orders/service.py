"""Order queries, transitions and timeline, for the routes, the steps of the flow and the connections.
Services flush but never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.cursors import decode_position, encode_position
from rakuten_connector.kit.errors import ApiError, NotFound
from rakuten_connector.orders.models import Order, OrderEvent, OrderState

RETRYABLE = frozenset({OrderState.FAILED, OrderState.NEEDS_ATTENTION})


def add_event(session: AsyncSession, order: Order, kind: str, message: str) -> None:
    session.add(OrderEvent(order_id=order.id, at=utcnow(), kind=kind, message=message))


def transition(
    session: AsyncSession, order: Order, state: OrderState, kind: str, message: str, reason: str | None = None
) -> None:
    """Change the state (or not) and always say so in the timeline."""
    order.state = state.value
    order.reason = reason
    add_event(session, order, kind, message)


async def wake_waiting_orders(session: AsyncSession, connection_id: str) -> None:
    """Make every order of the connection that waits for a next step due now: the sweep picks up the
    Rakuten actions that waited while the connection was paused or its credentials were refused."""
    await session.execute(
        update(Order)
        .where(Order.connection_id == connection_id, Order.next_check_at.is_not(None))
        .values(next_check_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def list_orders(
    session: AsyncSession, connection_id: str, state: OrderState | None, limit: int, cursor: str | None
) -> tuple[Sequence[Order], str | None]:
    query = (
        select(Order)
        .where(Order.connection_id == connection_id)
        .options(selectinload(Order.items))
        .order_by(Order.imported_at.desc(), Order.id.desc())
        .limit(limit + 1)
    )
    if state is not None:
        query = query.where(Order.state == state.value)
    if cursor:
        imported_at, order_id = decode_position(cursor)
        query = query.where(
            or_(Order.imported_at < imported_at, and_(Order.imported_at == imported_at, Order.id < order_id))
        )
    orders = list((await session.scalars(query)).all())
    if len(orders) > limit:
        return orders[:limit], encode_position(orders[limit - 1].imported_at, orders[limit - 1].id)
    return orders, None


async def get_order(session: AsyncSession, connection_id: str, purchase_id: str) -> Order:
    order = await session.scalar(
        select(Order)
        .where(Order.connection_id == connection_id, Order.purchase_id == purchase_id)
        .options(selectinload(Order.items))
    )
    if order is None:
        raise NotFound("order")
    return order


async def timeline(session: AsyncSession, order: Order) -> Sequence[OrderEvent]:
    return (
        await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
    ).all()


def request_retry(session: AsyncSession, order: Order) -> None:
    if order.state not in RETRYABLE:
        raise ApiError(
            409,
            "order_not_retryable",
            f"Only failed or needs-attention orders can be retried (this one is {order.state}).",
        )
    if order.parcel_id is None:
        transition(
            session,
            order,
            OrderState.IMPORTING,
            "retry_requested",
            "Retry asked: the parcel will be created again.",
        )
    else:
        add_event(
            session,
            order,
            "retry_requested",
            "Retry asked: the parcel and the Rakuten items will be checked again.",
        )
    order.attempts = 0
    order.last_error = None
    order.next_check_at = utcnow()


async def counts_by_state(session: AsyncSession, connection_ids: list[str]) -> dict[str, dict[str, int]]:
    """How many orders each connection has in each state (every state present, 0 when none)."""
    counts: dict[str, dict[str, int]] = {cid: {state.value: 0 for state in OrderState} for cid in connection_ids}
    if not connection_ids:
        return counts
    query = (
        select(Order.connection_id, Order.state, func.count())
        .where(Order.connection_id.in_(connection_ids))
        .group_by(Order.connection_id, Order.state)
    )
    for connection_id, state, count in (await session.execute(query)).all():
        counts[connection_id][state] = count
    return counts
