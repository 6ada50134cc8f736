"""Refuse an order Cubyn has lacked stock for longer than the merchant's delay: cancel its parcel, then
refuse its items on Rakuten (Rakuten's advice: refuse rather than accept and cancel later).

The check of the order (`check`) runs it under the order's lease, once the parcel it has just read was
applied: the due time comes from `stock_failure` (the merchant's delay after the stock check first
failed, every item still waiting for acceptance, the parcel still `CREATED`). Nothing is done for a paused
connection or one whose credentials were refused: the order waits, and is looked at again once the
connection is active.

Crash story: the parcel is cancelled first, then the cancelled parcel is applied like any other, and the
`CANCELLED` rule of `mapping.statuses` refuses the items not accepted (one refusal per item, each written
down). A worker that dies between the cancellation and the refusals leaves the order due: the next check
reads the parcel, now `CANCELLED`, and the same rule refuses the items, with the same reason (told by
`stock_failure.cancelled_reason`). Cubyn answering 409 means its warehouse took the parcel: nothing is
refused, the order stays as it is, the timeline says so, and the parcel's next state tells what to do.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn import CubynNotCancellable
from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.mapping.statuses import StockCheck, no_stock_for, stock_check
from rakuten_connector.orders.models import Order
from rakuten_connector.orders.progress import PAUSED_RECHECK, apply_parcel
from rakuten_connector.orders.service import add_event
from rakuten_connector.orders.stock_failure import REFUSABLE_STATES, refusal_due_at
from rakuten_connector.runtime import Runtime


async def refuse_when_due(
    rt: Runtime, session: AsyncSession, connection: Connection, order: Order, parcel: Parcel
) -> None:
    """Cancel the parcel and refuse the items if the order's refusal is due and `parcel`, just read from
    Cubyn, still says the stock is missing. Commits when it acts."""
    due = refusal_due_at(connection, order)
    hours = connection.refuse_out_of_stock_after_hours
    if due is None or hours is None or due > utcnow():
        return
    if not connection.may_call_rakuten or stock_check(parcel) is not StockCheck.OUT_OF_STOCK:
        # Nothing happens at Cubyn or Rakuten: the connection is not active (looked at again later, and at
        # once when it is active again: `wake_waiting_orders`), or Cubyn is checking the stock again (a
        # restock may be arriving: its answer decides).
        order.next_check_at = utcnow() + PAUSED_RECHECK
        await session.commit()
        return
    try:
        cancelled = await rt.cubyn(connection).cancel_parcel(parcel.id)
    except CubynNotCancellable:
        add_event(
            session,
            order,
            "out_of_stock_not_refused",
            f"{no_stock_for(hours)}, but its warehouse has already taken the parcel: it could not be cancelled, "
            "and the sale was not refused on Rakuten.",
        )
        # The parcel moved on: its next state (read at the next sweep, or its event) tells what to do.
        order.stock_failed_since = None
        order.next_check_at = utcnow()
        await session.commit()
        return
    add_event(
        session,
        order,
        "out_of_stock",
        f"{no_stock_for(hours)}: the Cubyn parcel {cancelled.tracking_id} was cancelled; the sale is refused on "
        "Rakuten.",
    )
    await session.commit()
    await apply_parcel(rt, session, connection, order, cancelled)


async def delay_changed(session: AsyncSession, connection_id: str) -> None:
    """The merchant changed the connection's delay: its orders out of stock are looked at again now, so
    their refusal is scheduled by the new delay (or not at all). Flushes, does not commit."""
    await session.execute(
        update(Order)
        .where(
            Order.connection_id == connection_id,
            Order.stock_failed_since.is_not(None),
            Order.state.in_(REFUSABLE_STATES),
        )
        .values(next_check_at=utcnow())
        .execution_options(synchronize_session=False)
    )
