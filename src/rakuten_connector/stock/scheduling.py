"""When a connection's stock job runs: the per-connection state row, its job ids, and the nightly sync time.

The database says when work is due (`StockState.next_run_at`, `StockSync.next_run_at`); Redis only carries
the jobs (`stock/jobs.py`). A periodic tick queues whatever is due, so a lost job or a flushed Redis only
delays work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import case, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.scheduling import phase_seconds
from rakuten_connector.connections.usable import credentials_refused_reason
from rakuten_connector.db import insert_ignore
from rakuten_connector.stock.models import StockState


def can_push(connection: Connection | None) -> bool:
    """Stock goes to Rakuten only for a live, active, unpaused connection whose stock update is on."""
    return connection is not None and connection.may_call_rakuten and connection.stock_sync_enabled


def why_not_pushing(connection: Connection | None) -> str:
    if connection is None or not connection.is_live:
        return "The connection was disconnected."
    if not connection.stock_sync_enabled:
        return "Stock update is turned off for this connection."
    if connection.paused:
        return "The connection is paused."
    return credentials_refused_reason(connection)


async def touch_state(session: AsyncSession, connection_id: str, now: datetime) -> None:
    """Say "the stock job has something to look at": its next run is brought forward to now at the latest.

    The UPDATE always writes the row, so it is ordered with the job's own writes of `next_run_at` (the job
    clears it only if nobody touched it meanwhile): a change is never left without a run.
    """
    await insert_ignore(session, StockState.__table__, {"id": connection_id, "failures": 0}, ["id"])
    current = StockState.next_run_at
    await session.execute(
        update(StockState)
        .where(StockState.id == connection_id)
        .values(next_run_at=case((current.is_(None) | (current > now), now), else_=current))
        .execution_options(synchronize_session=False)
    )


def next_full_sync_at(connection_id: str, now: datetime, hour: int) -> datetime:
    """The next time at `hour` (UTC), each connection at its own minute of that hour."""
    day = now.astimezone(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    at = day + timedelta(seconds=phase_seconds(connection_id, 3600))
    return at if at > now else at + timedelta(days=1)
