"""The webhook jobs: their names and ids (the route and the sweep build them here, so they collapse)."""

from __future__ import annotations

from datetime import datetime, timedelta

from rakuten_connector.kit.queue import Job, job_id

HANDLE_WEBHOOK_EVENT = "handle_webhook_event"


def event_job(
    event_id: str, received_at: datetime, now: datetime | None = None, period: timedelta | None = None
) -> Job:
    """Handle one stored event. The route queues it with the event's arrival time; the sweep, finding the
    event still pending, queues the same id (renewed every `period` while it stays pending)."""
    return Job(HANDLE_WEBHOOK_EVENT, (event_id,), job_id("webhook", event_id, received_at, now, period))
