"""Scheduled work rebuilt from the database at every tick: nothing that matters lives only in Redis."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.runtime import Runtime
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.webhooks.schemas import PARCEL_UPDATED

BATCH = 1000
EVENT_GRACE = timedelta(seconds=30)
SWEPT_STATES = (
    OrderState.IMPORTING.value,
    OrderState.IMPORTED.value,
    OrderState.ACCEPTED.value,
    OrderState.SHIPPED.value,
    OrderState.NEEDS_ATTENTION.value,
)


async def schedule_imports(rt: Runtime) -> int:
    """Enqueue the import of every active connection that is due. Job ids are per due slot, so two
    ticks or two workers enqueue it once; the connection lease decides who runs it anyway."""
    now = utcnow()
    async with rt.sessions() as session:
        due = (
            await session.execute(
                select(Connection.id, Connection.next_import_at)
                .where(
                    Connection.state == ConnectionState.ACTIVE.value,
                    Connection.paused.is_(False),
                    Connection.next_import_at <= now,
                )
                .order_by(Connection.next_import_at)
                .limit(BATCH)
            )
        ).all()
    jobs = [
        ("import_connection", connection_id, f"import:{connection_id}:{(due_at or now).timestamp()}")
        for connection_id, due_at in due
    ]
    return await rt.queue.enqueue_many(jobs)


async def sweep(rt: Runtime) -> int:
    """Re-enqueue what is overdue: orders whose next step is due, parcel events not handled yet."""
    now = utcnow()
    async with rt.sessions() as session:
        orders = (
            await session.execute(
                select(Order.id, Order.next_check_at)
                .join(Connection, Connection.id == Order.connection_id)
                .where(
                    Order.next_check_at <= now,
                    Order.state.in_(SWEPT_STATES),
                    Connection.state != ConnectionState.DISCONNECTED.value,
                )
                .order_by(Order.next_check_at)
                .limit(BATCH)
            )
        ).all()
        events = (
            await session.scalars(
                select(WebhookEvent.id)
                .where(
                    WebhookEvent.status == EventStatus.PENDING.value,
                    WebhookEvent.event_type == PARCEL_UPDATED,
                    WebhookEvent.received_at <= now - EVENT_GRACE,
                )
                .order_by(WebhookEvent.received_at)
                .limit(BATCH)
            )
        ).all()
    jobs = [
        ("check_order", order_id, f"order:{order_id}:{(check_at or now).timestamp()}")
        for order_id, check_at in orders
    ]
    jobs += [("handle_webhook_event", event_id, f"webhook:{event_id}") for event_id in events]
    return await rt.queue.enqueue_many(jobs)
