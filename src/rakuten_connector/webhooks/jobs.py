"""The webhook jobs: their names and ids (the route and the sweep build them here, so they collapse), and
which job a stored event asks for."""

from __future__ import annotations

from datetime import datetime, timedelta

from rakuten_connector.kit.queue import Job, job_id
from rakuten_connector.stock.jobs import next_batch_job
from rakuten_connector.webhooks.schemas import KNOWN_EVENTS, STOCK_UPDATED

HANDLE_WEBHOOK_EVENT = "handle_webhook_event"


def event_job(
    event_id: str, received_at: datetime, now: datetime | None = None, period: timedelta | None = None
) -> Job:
    """Handle one stored event. The route queues it with the event's arrival time; the sweep, finding the
    event still pending, queues the same id (renewed every `period` while it stays pending)."""
    return Job(HANDLE_WEBHOOK_EVENT, (event_id,), job_id("webhook", event_id, received_at, now, period))


def handling_job(event_type: str, event_id: str, connection_id: str, due: datetime, now: datetime) -> Job | None:
    """The job a pending event asks for, sent after the commit that made it pending: a stock event joins its
    connection's next batch after `now` (`stock/events.py`); a parcel event gets its own job, its id from
    `due` (the arrival time when it comes in; the time of a replay, so that a job the event already had,
    still kept or deferred, does not swallow the new one). None: a type nothing handles."""
    if event_type == STOCK_UPDATED:
        return next_batch_job(connection_id, now)
    if event_type in KNOWN_EVENTS:
        return event_job(event_id, due)
    return None
