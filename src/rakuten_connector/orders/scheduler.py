"""What the worker's cron ticks queue: the polls of the connections that are due, and the sweep of the
order checks and parcel events that are overdue.

Both are rebuilt from the database at every tick, so nothing that matters lives only in Redis: a lost
job is queued again by a later tick, and the leases (`poll`'s import lease, `order_lease`) let one worker
do the work however often it was queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.runtime import Runtime
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.webhooks.schemas import PARCEL_UPDATED

BATCH = 1000
# Connections per import job: one job polls them concurrently (the worker's import gate bounds the
# total), which spares most of the queue's per-job cost when thousands of shops are polled.
IMPORT_BATCH = 25
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


def _requeue_period(rt: Runtime) -> timedelta:
    """How long queued work may wait before it is queued again (its job may have been lost)."""
    return timedelta(seconds=2 * rt.settings.lease_seconds)


async def schedule_imports(rt: Runtime) -> int:
    """Queue the import of every active connection that is due, in batch jobs of IMPORT_BATCH.

    Each due connection is claimed in the database as it is queued (`import_queued_until`), so two ticks
    or two workers queue it once; the import clears the claim, and a claim whose job was lost (Redis
    flushed, worker killed) runs out and the connection is queued again. The connection's lease decides
    who runs an import anyway. Returns how many connections were queued.
    """
    now = utcnow()
    claim = now + _requeue_period(rt)
    due = (
        select(Connection.id)
        .where(
            Connection.state == ConnectionState.ACTIVE.value,
            Connection.paused.is_(False),
            Connection.next_import_at <= now,
            or_(Connection.import_queued_until.is_(None), Connection.import_queued_until <= now),
        )
        .order_by(Connection.next_import_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)  # PostgreSQL: a concurrent tick skips the rows being claimed
    )
    async with rt.sessions() as session:
        claimed = list(
            await session.scalars(
                update(Connection)
                .where(Connection.id.in_(due.scalar_subquery()))
                .values(import_queued_until=claim)
                .returning(Connection.id)
                .execution_options(synchronize_session=False)
            )
        )
        await session.commit()
    batches = [claimed[start : start + IMPORT_BATCH] for start in range(0, len(claimed), IMPORT_BATCH)]
    jobs = [("import_connections", batch, f"imports:{now.timestamp()}:{batch[0]}") for batch in batches]
    if await rt.queue.enqueue_many(jobs) < len(jobs):
        # Redis did not take them all: free the claims, so the next tick queues them again at once (a
        # connection queued twice is imported once: the second job finds it not due).
        async with rt.sessions() as session:
            await session.execute(
                update(Connection)
                .where(Connection.id.in_(claimed), Connection.import_queued_until == claim)
                .values(import_queued_until=None)
                .execution_options(synchronize_session=False)
            )
            await session.commit()
        return 0
    return len(claimed)


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
    period = _requeue_period(rt)
    jobs = [
        ("check_order", order_id, job_id("order", order_id, check_at or now, now, period))
        for order_id, check_at in orders
    ]
    jobs += [
        ("handle_webhook_event", event_id, job_id("webhook", event_id, received_at, now, period))
        for event_id, received_at in events
    ]
    return await rt.queue.enqueue_many(jobs)
