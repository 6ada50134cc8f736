"""Look at one order again and take its next step: finish its import, settle a Rakuten cancellation, or
re-read its parcel at Cubyn and apply it, then refuse it if Cubyn has lacked stock for it for longer
than the merchant's delay (`out_of_stock`).

The `check_order` job runs it under the order's lease (`order_lease.with_order`). It is queued by the
sweep (an order whose `next_check_at` is due), by the retry route, and by the poll when it found a
change on Rakuten (`rakuten_cancellations`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn import CubynNotFound
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders import stock_failure
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.out_of_stock import refuse_when_due
from rakuten_connector.orders.parcel_creation import ensure_parcel
from rakuten_connector.orders.progress import apply_parcel
from rakuten_connector.orders.rakuten_cancellations import settle_rakuten_cancellation
from rakuten_connector.orders.service import transition
from rakuten_connector.runtime import Runtime

WITH_PARCEL = frozenset({OrderState.IMPORTED, OrderState.ACCEPTED, OrderState.SHIPPED, OrderState.NEEDS_ATTENTION})


async def check_order(rt: Runtime, session: AsyncSession, connection: Connection, order: Order) -> None:
    """The order's next step, by its state; an order with nothing left to do is not looked at again."""
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
        parcel = await rt.cubyn(connection).get_parcel(order.parcel_id)
    except CubynNotFound:
        reason = f"Cubyn no longer knows parcel {order.tracking_id}. Check the order at Cubyn."
        transition(session, order, OrderState.NEEDS_ATTENTION, "needs_attention", reason, reason=reason)
        order.next_check_at = None
        await session.commit()
        return
    if not await apply_parcel(rt, session, connection, order, parcel):
        order.next_check_at = None if state is OrderState.NEEDS_ATTENTION else utcnow() + timedelta(minutes=30)
        stock_failure.schedule(connection, order)
        await session.commit()
    await refuse_when_due(rt, session, connection, order, parcel)
