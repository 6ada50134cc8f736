"""When a connection's next import is due: each connection has its own phase within the interval,
so thousands of shops are spread over the interval instead of all polled at the same second."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

# After consecutive failures (Rakuten 5xx, timeouts) wait longer, up to the normal interval.
FAILURE_BACKOFF_SECONDS = (15, 30, 60, 120, 240)


def phase_seconds(connection_id: str, interval_seconds: int) -> float:
    digest = hashlib.sha256(connection_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % (interval_seconds * 1000) / 1000


def next_import_at(connection_id: str, now: datetime, interval_seconds: int) -> datetime:
    """The first instant after `now` that falls on this connection's phase."""
    epoch = now.astimezone(UTC).timestamp()
    phase = phase_seconds(connection_id, interval_seconds)
    slots = (epoch - phase) // interval_seconds + 1
    return datetime.fromtimestamp(slots * interval_seconds + phase, UTC)


def retry_after_failure(now: datetime, failures: int, interval_seconds: int) -> datetime:
    index = min(max(failures, 1), len(FAILURE_BACKOFF_SECONDS)) - 1
    return now + timedelta(seconds=min(FAILURE_BACKOFF_SECONDS[index], interval_seconds))
