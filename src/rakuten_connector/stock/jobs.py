"""The stock jobs: their names and ids, and the typed helpers that queue them.

Ids are built from (connection or sync, due time), so asking for the same run twice collapses into one job.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Protocol

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.queue import Job, JobQueue, job_id

STOCK_RUN, STOCK_SYNC_RUN, STOCK_APPLY_EVENTS = "stock_run", "stock_sync_run", "stock_apply_events"
APPLY_DEBOUNCE_SECONDS = 0.25  # events arriving this close together are applied in one batch


class HasQueue(Protocol):
    @property
    def queue(self) -> JobQueue: ...


def _later(at: datetime) -> datetime | None:
    return at if at > utcnow() else None


def stock_run_job(connection_id: str, at: datetime) -> Job:
    """Do what is due for the connection's stock (`stock/pushes.py`), not before `at`."""
    return Job(STOCK_RUN, (connection_id,), job_id("stock", connection_id, at), _later(at))


def sync_run_job(sync_id: str, at: datetime) -> Job:
    """The next step of a full sync (`stock/syncs.py`), not before `at`."""
    return Job(STOCK_SYNC_RUN, (sync_id,), job_id("stock-sync", sync_id, at), _later(at))


def apply_events_job(connection_id: str, slot: datetime) -> Job:
    """Apply the connection's pending stock events (`stock/events.py`) at `slot`: every event arriving
    before it joins the same batch."""
    return Job(STOCK_APPLY_EVENTS, (connection_id,), job_id("stock-events", connection_id, slot), _later(slot))


def next_apply_slot(now: datetime) -> datetime:
    step = APPLY_DEBOUNCE_SECONDS
    return datetime.fromtimestamp(math.ceil(now.timestamp() / step) * step, UTC)


def next_batch_job(connection_id: str, now: datetime) -> Job:
    """Apply the connection's pending stock events in its next batch after `now` (events stored before `now`
    are there for it to take: its job cannot have run yet)."""
    return apply_events_job(connection_id, next_apply_slot(now))


async def enqueue_stock_run(rt: HasQueue, connection_id: str, at: datetime) -> bool:
    return await rt.queue.send([stock_run_job(connection_id, at)]) == 1


async def enqueue_sync_run(rt: HasQueue, sync_id: str, at: datetime) -> bool:
    return await rt.queue.send([sync_run_job(sync_id, at)]) == 1
