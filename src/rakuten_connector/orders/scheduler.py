"""What the worker's cron ticks queue: the polls of the connections that are due, and the sweep of the
order checks and parcel events that are overdue.

Both are rebuilt from the database at every tick, so nothing that matters lives only in Redis: a lost
job is queued again by a later tick, and the leases (`poll`'s import lease, `order_lease`) let one worker
do the work however often it was queued.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from rakuten_connector.connections.imports import claim_due_imports, free_import_claims
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.jobs import check_order_job, import_batch_job
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.runtime import Runtime
from rakuten_connector.webhooks.jobs import event_job
from rakuten_connector.webhooks.schemas import PARCEL_UPDATED
from rakuten_connector.webhooks.service import overdue_events

BATCH = 1000
# Due connections one tick claims: all of them in practice, so a burst (every shop due after an outage,
# thousands at start-up) is queued at once and polled at the worker's pace, instead of a thousand per tick
# that waits for its own jobs to free a slot in the queue.
IMPORT_CLAIM = 20_000
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
    async with rt.sessions() as session:
        claimed = await claim_due_imports(session, now, claim, IMPORT_CLAIM)
        await session.commit()
    batches = [claimed[start : start + IMPORT_BATCH] for start in range(0, len(claimed), IMPORT_BATCH)]
    jobs = [import_batch_job(batch, now) for batch in batches]
    if await rt.queue.send(jobs) < len(jobs):
        # Redis did not take them all: free the claims, so the next tick queues them again at once (a
        # connection queued twice is imported once: the second job finds it not due).
        async with rt.sessions() as session:
            await free_import_claims(session, claimed, claim)
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
        events = await overdue_events(session, PARCEL_UPDATED, now - EVENT_GRACE, BATCH)
    period = _requeue_period(rt)
    jobs = [check_order_job(order_id, check_at or now, now, period) for order_id, check_at in orders]
    jobs += [event_job(event_id, received_at, now, period) for event_id, _, received_at in events]
    return await rt.queue.send(jobs)
