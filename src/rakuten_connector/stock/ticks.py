"""The stock ticks, which rebuild the stock jobs from the database (Redis only carries work).

- `tick` (every few seconds): connections whose stock run is due, syncs that are due (or whose worker died:
  their `next_run_at` watchdog passed), stock events still pending after a grace period.
- `nightly` (every minute): each connection's scheduled full reconciliation, when settings allow it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.stock.jobs import apply_events_job, enqueue_stock_run, enqueue_sync_run
from rakuten_connector.stock.models import ACTIVE_SYNC, StockState, StockSync
from rakuten_connector.stock.scheduling import next_full_sync_at
from rakuten_connector.webhooks.schemas import STOCK_UPDATED
from rakuten_connector.webhooks.service import connections_with_overdue_events

log = structlog.get_logger(__name__)

BATCH = 1000
EVENT_GRACE = timedelta(seconds=10)


async def tick(rt: Runtime) -> int:
    now = utcnow()
    async with rt.sessions() as session:
        due_runs = (
            await session.execute(
                select(StockState.id, StockState.next_run_at)
                .where(StockState.next_run_at <= now)
                .order_by(StockState.next_run_at)
                .limit(BATCH)
            )
        ).all()
        due_syncs = (
            await session.execute(
                select(StockSync.id, StockSync.next_run_at)
                .where(
                    StockSync.status.in_(ACTIVE_SYNC),
                    (StockSync.next_run_at.is_(None)) | (StockSync.next_run_at <= now),
                )
                .limit(BATCH)
            )
        ).all()
        stale_events = await connections_with_overdue_events(session, STOCK_UPDATED, now - EVENT_GRACE, BATCH)
    queued = 0
    for connection_id, at in due_runs:
        queued += await enqueue_stock_run(rt, connection_id, at or now)
    for sync_id, at in due_syncs:
        queued += await enqueue_sync_run(rt, sync_id, at or now)
    grace = EVENT_GRACE.total_seconds()
    slot = datetime.fromtimestamp(now.timestamp() // grace * grace, UTC)  # one job per grace period
    queued += await rt.queue.send(apply_events_job(connection_id, slot) for connection_id in stale_events)
    return queued


async def nightly(rt: Runtime) -> int:
    """Start the scheduled full syncs that are due (one per connection and night, never two at once)."""
    settings = rt.settings
    if not settings.stock_full_sync_enabled:
        return 0
    now = utcnow()
    started = 0
    async with rt.sessions() as session:
        rows = (
            await session.execute(
                select(Connection, StockState)
                .outerjoin(StockState, StockState.id == Connection.id)
                .where(
                    Connection.state == ConnectionState.ACTIVE.value,
                    Connection.stock_sync_enabled.is_(True),
                    (StockState.id.is_(None))
                    | (StockState.next_full_sync_at.is_(None))
                    | (StockState.next_full_sync_at <= now),
                )
                .limit(BATCH)
            )
        ).all()
        for connection, state in rows:
            next_at = next_full_sync_at(connection.id, now, settings.stock_full_sync_hour)
            if state is None:
                session.add(StockState(id=connection.id, failures=0, next_full_sync_at=next_at))
            elif state.next_full_sync_at is None:
                state.next_full_sync_at = next_at
            else:
                state.next_full_sync_at = next_at
                if not connection.paused and await _start_scheduled_sync(rt, connection.id):
                    started += 1
            await session.commit()
    return started


async def _start_scheduled_sync(rt: Runtime, connection_id: str) -> bool:
    async with rt.sessions() as session:
        sync = StockSync(connection_id=connection_id, trigger="scheduled", next_run_at=utcnow())
        session.add(sync)
        try:
            await session.commit()
        except IntegrityError:
            return False  # one is already queued or running
    await enqueue_sync_run(rt, sync.id, utcnow())
    log.info("stock_sync_scheduled", connection_id=connection_id, sync_id=sync.id)
    return True
