"""Since when Cubyn has lacked stock for an order, and when the connector refuses it for that.

A merchant may choose a delay (`Connection.refuse_out_of_stock_after_hours`, None: never): an order whose
parcel has failed its stock check that long, while every item still waits for acceptance on Rakuten, is
refused (`out_of_stock` does it). Here, with no IO:
- `observe` writes down the first time a parcel applied to the order shows the stock check failed
  (`Order.stock_failed_since`, kept through Cubyn's re-checks) and forgets it once the check passes or the
  parcel moves on. A cancelled parcel keeps it until its order is settled (`settled`): while the items of
  a parcel the connector cancelled are refused, even after a crash, it tells why the parcel was cancelled.
- `schedule` brings the order's next check forward to the refusal's due time, so the sweep acts then even
  if Cubyn says nothing more.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rakuten_connector.clients.cubyn_models import Parcel, ParcelStatus
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import as_utc, utcnow
from rakuten_connector.mapping.parcels import WAITING_STATUSES
from rakuten_connector.mapping.statuses import StockCheck, out_of_stock_reason, stock_check
from rakuten_connector.orders.models import Order, OrderState

# An order out of stock is in one of these states (needs attention once Cubyn said so).
REFUSABLE_STATES = frozenset({OrderState.IMPORTED.value, OrderState.NEEDS_ATTENTION.value})


def observe(order: Order, parcel: Parcel) -> None:
    """Write down (first time only) or forget the stock failure that `parcel`, about to be applied, shows."""
    check = stock_check(parcel)
    if check is StockCheck.OUT_OF_STOCK:
        if order.stock_failed_since is None:
            order.stock_failed_since = utcnow()
    elif check is StockCheck.CLEAR and parcel.status.strip().upper() != ParcelStatus.CANCELLED:
        order.stock_failed_since = None


def settled(order: Order) -> None:
    """The order has its new state: a cancelled one keeps no stock failure."""
    if order.state == OrderState.CANCELLED:
        order.stock_failed_since = None


def only_waiting_items(order: Order) -> bool:
    """Every item of the order waits for acceptance on Rakuten, as last recorded (none accepted, refused or
    cancelled): only such an order is refused."""
    return bool(order.items) and all(
        item.accepted_at is None
        and item.refused_at is None
        and item.cancelled_at is None
        and item.rakuten_status.strip().upper() in WAITING_STATUSES
        for item in order.items
    )


def refusal_delay(connection: Connection, order: Order) -> int | None:
    """The merchant's delay if it applies to this order (every item waiting), else None."""
    hours = connection.refuse_out_of_stock_after_hours
    return hours if hours is not None and only_waiting_items(order) else None


def refusal_due_at(connection: Connection, order: Order) -> datetime | None:
    """When the order is to be refused for lack of stock: None unless the merchant chose a delay, Cubyn's
    stock check is failing, the parcel is still `CREATED` as far as we know and every item still waits."""
    hours = refusal_delay(connection, order)
    if hours is None or order.stock_failed_since is None or order.parcel_id is None:
        return None
    if order.state not in REFUSABLE_STATES or (order.parcel_status or "").upper() != ParcelStatus.CREATED:
        return None
    return as_utc(order.stock_failed_since) + timedelta(hours=hours)


def schedule(connection: Connection, order: Order) -> None:
    """Make the order's next check no later than its refusal's due time (which may be past already)."""
    due = refusal_due_at(connection, order)
    if due is not None and (order.next_check_at is None or due < as_utc(order.next_check_at)):
        order.next_check_at = due


def cancelled_reason(connection: Connection, order: Order) -> str | None:
    """Why a cancelled parcel was cancelled, when the connector cancelled it because the stock check had
    failed for the merchant's delay (None: Cubyn did). Told by the order's state alone, so the items are
    refused with the same reason after a crash between the cancellation and the refusals."""
    hours = connection.refuse_out_of_stock_after_hours
    since = order.stock_failed_since
    if hours is None or since is None or any(item.accepted_at is not None for item in order.items):
        return None
    if as_utc(since) + timedelta(hours=hours) > utcnow():
        return None
    return out_of_stock_reason(hours)
