"""Cancellations and claims that happen on Rakuten (the buyer, the merchant's back office, or Rakuten's
acceptance deadline): how they are detected, recorded and settled.

What happens when Rakuten cancels an item:
1. Detection, during the poll of the connection (`poll`), under its import lease:
   - an imported order that is not accepted yet and that getnewsales no longer lists has its items read
     (getiteminfos), once per disappearance: `read_vanished_sales`;
   - a getcurrentsales scan, once per import interval, catches later cancellations and claims of every
     open order: `scan_current_sales`.
   `progress` learns it too, when Rakuten refuses an action on the item and says its status.
   getiteminfos marks the buyer's messages about the item as read in the merchant's back office, so it is
   never part of the routine: the scan reads getcurrentsales, and a vanished order is read only once.
2. Recording: every path gives Rakuten's status to `item_status.record_rakuten_status`, which sets the
   item's status, writes its timeline event and, for a claim, flags the order for the merchant. An item
   cancelled or refused there has left the flow: its order is due for a check at once (queued by the poll,
   or by the sweep after a refused action).
3. Settlement, by that check (`check`), under the order's lease: `settle_rakuten_cancellation` cancels
   the Cubyn parcel while it is still `CREATED`, or asks for a person (some items only, or a parcel the
   warehouse already works on).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.clients.cubyn import CubynNotCancellable
from rakuten_connector.clients.rakuten import RakutenClient
from rakuten_connector.clients.rakuten_models import CLAIM_STATUSES, Sale
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.item_status import claim_reason, record_rakuten_status
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.orders.service import transition
from rakuten_connector.runtime import Runtime

OPEN_STATES = (OrderState.IMPORTED.value, OrderState.ACCEPTED.value, OrderState.SHIPPED.value)


def open_claim(order: Order) -> str | None:
    """Why the order needs the merchant while a claim is open on Rakuten for one of its items, else None."""
    for item in order.items:
        if item.rakuten_status.upper() in CLAIM_STATUSES:
            return claim_reason(item.item_id, item.rakuten_status.upper())
    return None


def left_the_flow(item: OrderItem) -> bool:
    """Cancelled or refused on Rakuten: nothing more is done for the item there."""
    return item.cancelled_at is not None or item.refused_at is not None


async def read_vanished_sales(
    session: AsyncSession, rakuten: RakutenClient, connection_id: str, started_at: datetime
) -> list[str]:
    """Imported, unaccepted orders that getnewsales no longer lists: read their items on Rakuten, once.

    `rakuten_seen_at` is cleared once the items were read: a sale getnewsales keeps not listing is not read
    again at the next polls (getiteminfos marks the buyer's messages as read; the getcurrentsales scan
    follows the order from then on). Listed again by getnewsales, it is seen again, and read again if it
    vanishes once more.
    """
    orders = (
        await session.scalars(
            select(Order)
            .where(
                Order.connection_id == connection_id,
                Order.state == OrderState.IMPORTED.value,
                Order.rakuten_seen_at < started_at,
            )
            .options(selectinload(Order.items))
        )
    ).all()
    await session.commit()  # no database connection held while Rakuten answers
    to_check = []
    for order in orders:
        changed = False
        for item in order.items:
            if item.accepted_at is None and not left_the_flow(item):
                info = await rakuten.get_item_info(item.item_id)
                changed |= record_rakuten_status(session, order, item, info.status)
        order.rakuten_seen_at = None  # read once per disappearance, not at every import
        if changed:
            order.next_check_at = utcnow()
            to_check.append(order.id)
        await session.commit()
    return to_check


async def scan_current_sales(session: AsyncSession, rakuten: RakutenClient, connection_id: str) -> list[str]:
    """getcurrentsales since the oldest open order: later cancellations and claims."""
    open_orders = (
        await session.scalars(
            select(Order)
            .where(Order.connection_id == connection_id, Order.state.in_(OPEN_STATES))
            .options(selectinload(Order.items))
        )
    ).all()
    await session.commit()  # no database connection held while Rakuten answers
    if not open_orders:
        return []
    by_purchase = {order.purchase_id: order for order in open_orders}
    dates = [o.purchased_at or o.imported_at for o in open_orders]
    to_check = []
    async for sale in rakuten.iter_current_sales(min(dates).date()):
        order = by_purchase.get(sale.purchase_id)
        if order is not None and _apply_sale(session, order, sale):
            order.next_check_at = utcnow()
            to_check.append(order.id)
    await session.commit()
    return to_check


def _apply_sale(session: AsyncSession, order: Order, sale: Sale) -> bool:
    statuses = {item.item_id: item.status for item in sale.items}
    changed = False
    for item in order.items:
        if item.item_id in statuses:
            changed |= record_rakuten_status(session, order, item, statuses[item.item_id])
    return changed


def _gone(items: Iterable[OrderItem]) -> tuple[list[OrderItem], list[OrderItem]]:
    items = list(items)
    gone = [i for i in items if left_the_flow(i)]
    return gone, [i for i in items if i not in gone]


async def settle_rakuten_cancellation(
    rt: Runtime, session: AsyncSession, connection: Connection, order: Order
) -> bool:
    """If Rakuten cancelled items of this order, stop the parcel or ask for a person. True if it did."""
    gone, live = _gone(order.items)
    if not gone or order.state in (OrderState.CANCELLED.value, OrderState.SKIPPED.value, OrderState.FAILED.value):
        return False
    if order.parcel_id is None or (order.parcel_status or "").upper() == "CANCELLED":
        # No parcel to stop: a cancelled one is read and applied as it is (its other items refused or
        # cancelled, also when a crash stopped that halfway).
        return False
    if live:
        reason = (
            f"{len(gone)} of {len(order.items)} item(s) were cancelled on Rakuten, but the Cubyn parcel holds them all. "
            "Change or cancel the parcel at Cubyn."
        )
    else:
        try:
            await rt.cubyn(connection).cancel_parcel(order.parcel_id)
        except CubynNotCancellable:
            reason = (
                "The order was cancelled on Rakuten but Cubyn's warehouse is already processing the parcel. "
                "Stop it at Cubyn or contact the buyer."
            )
        else:
            transition(
                session,
                order,
                OrderState.CANCELLED,
                "cancelled",
                "Cancelled on Rakuten: the Cubyn parcel was cancelled.",
            )
            order.parcel_status = "CANCELLED"
            order.next_check_at = None
            await session.commit()
            return True
    if order.state != OrderState.NEEDS_ATTENTION or order.reason != reason:
        transition(session, order, OrderState.NEEDS_ATTENTION, "needs_attention", reason, reason=reason)
    order.next_check_at = None
    await session.commit()
    return True
