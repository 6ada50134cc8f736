"""The webhook job, as the worker runs it."""

from __future__ import annotations

from rakuten_connector.tasks import Jobs, Tick
from rakuten_connector.webhooks.handling import handle_event
from rakuten_connector.webhooks.jobs import HANDLE_WEBHOOK_EVENT

JOBS: Jobs = {HANDLE_WEBHOOK_EVENT: handle_event}
TICKS: tuple[Tick, ...] = ()
