"""Handle a stored Cubyn event (after the webhook route answered 2xx)."""

from __future__ import annotations

import structlog
from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import refuses_values
from rakuten_connector.mapping.parcels import purchase_of
from rakuten_connector.orders.models import Order
from rakuten_connector.orders.order_lease import OrderBusy, with_order
from rakuten_connector.orders.progress import apply_parcel
from rakuten_connector.runtime import Runtime
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.webhooks.schemas import PARCEL_UPDATED, ParcelUpdated

log = structlog.get_logger(__name__)


async def _finish(rt: Runtime, event_id: str, status: EventStatus, error: str | None = None) -> None:
    async with rt.sessions() as session:
        event = await session.get_one(WebhookEvent, event_id)
        event.status = status.value
        event.last_error = error
        event.processed_at = utcnow()
        await session.commit()


async def handle_event(rt: Runtime, event_id: str) -> str:
    """Apply one stored `parcel.updated` event. (Stock events never get this job: the intake queues their
    connection's next batch, `stock/events.py`.)"""
    async with rt.sessions() as session:
        event = await session.get(WebhookEvent, event_id)
        if event is None or event.status != EventStatus.PENDING or event.event_type != PARCEL_UPDATED:
            return "nothing to do"
        event.attempts += 1
        await session.commit()
        connection_id, payload = event.connection_id, event.payload
    try:
        parcel = ParcelUpdated.model_validate_json(payload).data
    except ValidationError as exc:
        await _finish(rt, event_id, EventStatus.FAILED, f"unreadable parcel: {exc.errors()[0]['msg']}")
        return "unreadable"
    conditions = [Order.parcel_id == parcel.id]
    if (purchase_id := purchase_of(parcel.order_ref)) is not None:
        conditions.append(Order.purchase_id == purchase_id)
    async with rt.sessions() as session:
        order_id = await session.scalar(
            select(Order.id).where(Order.connection_id == connection_id, or_(*conditions)).limit(1)
        )
    if order_id is None:
        await _finish(rt, event_id, EventStatus.IGNORED, "no order of this connection has this parcel")
        return "unknown parcel"

    async def step(rt: Runtime, session: AsyncSession, connection: Connection, order: Order) -> None:
        if order.parcel_id is None:
            # The import has not written the parcel down yet: try again shortly (the event stays pending).
            raise OrderBusy(order.id)
        await apply_parcel(rt, session, connection, order, parcel)

    try:
        await with_order(rt, order_id, step)
    except (DBAPIError, OverflowError) as exc:
        if not refuses_values(exc):
            raise
        # A value the order or the database cannot take slipped past the door: this event fails on its
        # own, with its reason, and the events behind it go on.
        log.warning("parcel_event_failed", event_id=event_id, error=type(exc).__name__, exc_info=True)
        await _finish(rt, event_id, EventStatus.FAILED, f"could not be applied: {type(exc).__name__}")
        return "failed"
    await _finish(rt, event_id, EventStatus.PROCESSED)
    return "applied"
