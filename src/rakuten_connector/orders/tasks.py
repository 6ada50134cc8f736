"""Scheduled work rebuilt from the database at every tick: nothing that matters lives only in Redis."""

from __future__ import annotations

from datetime import datetime, timedelta

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


def job_id(prefix: str, key: str, due: datetime, now: datetime, period: timedelta) -> str:
    """An arq job id for work due at `due`, renewed every `period` while the work stays overdue.

    arq refuses an id while a job with it is queued, running or kept, and a job killed with SIGKILL keeps
    its id for about `job_timeout`: the generation lets the next tick enqueue it again well before that
    (the database lease still lets only one of them run).
    """
    generation = max(0, int((now - due) / period))
    return f"{prefix}:{key}:{due.timestamp()}:{generation}"


def _period(rt: Runtime) -> timedelta:
    return timedelta(seconds=2 * rt.settings.lease_seconds)


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
    period = _period(rt)
    jobs = [
        ("import_connection", connection_id, job_id("import", connection_id, due_at or now, now, period))
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
            await session.execute(
                select(WebhookEvent.id, WebhookEvent.received_at)
                .where(
                    WebhookEvent.status == EventStatus.PENDING.value,
                    WebhookEvent.event_type == PARCEL_UPDATED,
                    WebhookEvent.received_at <= now - EVENT_GRACE,
                )
                .order_by(WebhookEvent.received_at)
                .limit(BATCH)
            )
        ).all()
    period = _period(rt)
    jobs = [
        ("check_order", order_id, job_id("order", order_id, check_at or now, now, period))
        for order_id, check_at in orders
    ]
    jobs += [
        ("handle_webhook_event", event_id, job_id("webhook", event_id, received_at, now, period))
        for event_id, received_at in events
    ]
    return await rt.queue.enqueue_many(jobs)
