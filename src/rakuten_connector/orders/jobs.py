"""The order jobs: their names and ids, built here for every caller (routes, the poll, the sweep)."""

from __future__ import annotations

from datetime import datetime, timedelta

from rakuten_connector.kit.queue import Job, job_id

IMPORT_CONNECTION, IMPORT_CONNECTIONS, CHECK_ORDER = "import_connection", "import_connections", "check_order"


def import_now_job(connection_id: str, now: datetime) -> Job:
    """A poll the merchant asked for (`POST .../imports`); its own id, so a queued scheduled poll does not
    swallow it (the import lease runs one at a time anyway)."""
    return Job(IMPORT_CONNECTION, (connection_id,), job_id("import-now", connection_id, now))


def retry_order_job(order_id: str, now: datetime) -> Job:
    """A retry the merchant asked for; its own id, so a check queued earlier does not swallow it."""
    return Job(CHECK_ORDER, (order_id,), job_id("order-retry", order_id, now))


def import_batch_job(connection_ids: list[str], now: datetime) -> Job:
    """Poll a batch of due connections (the scheduler claimed them in the database first)."""
    return Job(IMPORT_CONNECTIONS, (connection_ids,), job_id("imports", connection_ids[0], now))


def check_order_job(
    order_id: str, due: datetime, now: datetime | None = None, period: timedelta | None = None
) -> Job:
    """Look at an order again (its next step is due, or the poll saw it change on Rakuten). One id per due
    time, renewed every `period` while the order stays overdue."""
    return Job(CHECK_ORDER, (order_id,), job_id("order", order_id, due, now, period))
