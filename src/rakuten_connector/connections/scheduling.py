"""When a connection's next import is due: each connection has its own phase within the interval,
so thousands of shops are spread over the interval instead of all polled at the same second."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from rakuten_connector.kit.backoff import Backoff


def phase_seconds(connection_id: str, interval_seconds: int) -> float:
    digest = hashlib.sha256(connection_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % (interval_seconds * 1000) / 1000


def next_import_at(connection_id: str, now: datetime, interval_seconds: int) -> datetime:
    """The first instant after `now` that falls on this connection's phase."""
    epoch = now.astimezone(UTC).timestamp()
    phase = phase_seconds(connection_id, interval_seconds)
    slots = (epoch - phase) // interval_seconds + 1
    return datetime.fromtimestamp(slots * interval_seconds + phase, UTC)


def retry_after_failure(now: datetime, failures: int, backoff: Backoff) -> datetime:
    """The next poll after `failures` consecutive failures (Rakuten 5xx, timeouts)."""
    return now + backoff.delay(failures)
