"""The order jobs: their names and ids, built here for every caller (routes, the poll, the sweep)."""

from __future__ import annotations

from datetime import datetime

from rakuten_connector.kit.queue import Job, job_id


def import_now_job(connection_id: str, now: datetime) -> Job:
    """A poll the merchant asked for (`POST .../imports`); its own id, so a queued scheduled poll does not
    swallow it (the import lease runs one at a time anyway)."""
    return Job("import_connection", (connection_id,), job_id("import-now", connection_id, now))


def retry_order_job(order_id: str, now: datetime) -> Job:
    """A retry the merchant asked for; its own id, so a check queued earlier does not swallow it."""
    return Job("check_order", (order_id,), job_id("order-retry", order_id, now))
