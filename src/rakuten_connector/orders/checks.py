"""Look at one order again: finish its import, settle a Rakuten cancellation, or re-read its parcel.

Used by the sweep (an order whose next step is overdue), by the retry route and after the import found
a change on Rakuten. One worker at a time per order (a database lease).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.clients.cubyn import CubynAuthError, CubynNotFound
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.service import mark_credentials_invalid
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.cancellations import settle_rakuten_cancellation
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.parcels import ensure_parcel
from rakuten_connector.orders.progress import apply_parcel
from rakuten_connector.orders.service import transition
from rakuten_connector.runtime import Runtime

RAKUTEN_REFUSED = (
    "Rakuten refused the seller ID and token: generate a new token in Rakuten and update the connection."
)
CUBYN_REFUSED = "Cubyn refused the application key: update the connection with a valid key."
WITH_PARCEL = frozenset({OrderState.IMPORTED, OrderState.ACCEPTED, OrderState.SHIPPED, OrderState.NEEDS_ATTENTION})

OrderStep = Callable[[Runtime, AsyncSession, Connection, Order], Awaitable[None]]


class OrderBusy(Exception):
    """Another worker holds the order right now: try again shortly."""


async def with_order(rt: Runtime, order_id: str, step: OrderStep) -> None:
    """Run `step` on the order under its lease; raises OrderBusy when another worker holds it.

    The step's upstream calls and commits raise LeaseLost once the order's lease (or the lease of the
    import that runs it) is lost: it stops there, and the worker that took the order over finishes it.
    """
    lease = timedelta(seconds=rt.settings.lease_seconds)
    async with leases.held(rt.engine, Order, order_id, rt.owner, lease) as mine:
        if not mine:
            raise OrderBusy(order_id)
        async with rt.sessions() as session:
            order = await session.get(Order, order_id, options=[selectinload(Order.items)])
            if order is None:
                return
            connection = await session.get_one(Connection, order.connection_id)
            if not connection.is_live:
                return
            try:
                await step(rt, session, connection, order)
            except CubynAuthError:
                await session.rollback()
                await mark_credentials_invalid(session, connection, CUBYN_REFUSED)


async def check_order(rt: Runtime, session: AsyncSession, connection: Connection, order: Order) -> None:
    state = OrderState(order.state)
    if state is OrderState.IMPORTING:
        await ensure_parcel(rt, session, connection, order)
        return
    if state not in WITH_PARCEL or order.parcel_id is None:
        order.next_check_at = None
        await session.commit()
        return
    if await settle_rakuten_cancellation(rt, session, connection, order):
        return
    try:
        parcel = await rt.cubyn(connection).get_parcel(int(order.parcel_id))
    except CubynNotFound:
        reason = f"Cubyn no longer knows parcel {order.tracking_id}. Check the order at Cubyn."
        transition(session, order, OrderState.NEEDS_ATTENTION, "needs_attention", reason, reason=reason)
        order.next_check_at = None
        await session.commit()
        return
    if not await apply_parcel(rt, session, connection, order, parcel):
        order.next_check_at = None if state is OrderState.NEEDS_ATTENTION else utcnow() + timedelta(minutes=30)
        await session.commit()
