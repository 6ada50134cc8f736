"""An item's status on Rakuten, written in one place: what Rakuten reports of it (`record_rakuten_status`:
the poll's detectors, an action Rakuten refused) and what the connector's own accept, refuse and cancel
calls made it (`record_own_action`). Each sets the status, the instant it was reached (`accepted_at`,
`refused_at`, `cancelled_at`) and says so in the order's timeline. Services flush but never commit."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.rakuten_models import ACCEPTED_STATUSES, CLAIM_STATUSES
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.orders.service import add_event, transition

# The statuses the connector's own calls give an item on Rakuten.
OwnStatus = Literal["ACCEPTED", "REFUSED", "CANCELLED"]


def claim_reason(item_id: str, status: str) -> str:
    return f"A claim is open on Rakuten for item {item_id} ({status}). Answer it in the Rakuten back office."


def record_rakuten_status(session: AsyncSession, order: Order, item: OrderItem, status: str) -> bool:
    """Record Rakuten's status of an item; True when the item has just left the flow (cancelled or
    refused there): the order must then be looked at, to stop its parcel or ask for a person.

    Cancelled or refused: noted once, and said in the timeline. Accepted (in the back office): noted, so
    the connector never accepts the item again. A claim: the order needs the merchant, who answers it on
    Rakuten; it is not looked at again until then. A status already recorded changes nothing.
    """
    status = status.strip().upper()
    if not status or status == item.rakuten_status.upper():
        return False
    item.rakuten_status = status
    now = utcnow()
    if status == "CANCELLED" and item.cancelled_at is None:
        item.cancelled_at = now
        add_event(session, order, "cancelled_on_rakuten", f"Item {item.item_id} was cancelled on Rakuten.")
        return True
    if status == "REFUSED" and item.refused_at is None:
        item.refused_at = now
        add_event(session, order, "cancelled_on_rakuten", f"Item {item.item_id} was refused on Rakuten.")
        return True
    if status in ACCEPTED_STATUSES and item.accepted_at is None:
        item.accepted_at = now  # accepted on Rakuten already (back office): never accept it again
        return False
    if status in CLAIM_STATUSES:
        reason = claim_reason(item.item_id, status)
        transition(session, order, OrderState.NEEDS_ATTENTION, "claim", reason, reason=reason)
        order.next_check_at = None
    return False


def record_own_action(session: AsyncSession, order: Order, item: OrderItem, status: OwnStatus) -> None:
    """Record that the connector's own call (accept, refuse, cancel) just made the item `status` on Rakuten."""
    item.rakuten_status = status
    now = utcnow()
    if status == "ACCEPTED":
        item.accepted_at = now
        add_event(session, order, "item_accepted", f"Item {item.item_id} ({item.sku}) accepted on Rakuten.")
    elif status == "REFUSED":
        item.refused_at = now
        add_event(session, order, "item_refused", f"Item {item.item_id} refused on Rakuten.")
    else:
        item.cancelled_at = now
        add_event(session, order, "item_cancelled", f"Item {item.item_id} cancelled on Rakuten.")
