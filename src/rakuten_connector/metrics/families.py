"""Every series the processes count as things happen, in one place (the scrape-time gauges are in `state`).

Names follow Prometheus' conventions: the `rakuten_connector_` prefix, base units (seconds), `_total` on
counters. No label carries a shop, a SKU or a purchase id: labels take a few known values only (a value from
outside, such as a webhook's event type, is first clipped to the known ones).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, Info

from rakuten_connector import __version__
from rakuten_connector.kit import leases

PREFIX = "rakuten_connector_"
# Upstream calls: most answer within a second, Rakuten's exports and reports may take up to a minute.
UPSTREAM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

BUILD = Info(f"{PREFIX}build", "The running version.")
BUILD.info({"version": __version__})

HTTP_REQUESTS = Counter(
    f"{PREFIX}http_requests_total", "HTTP requests answered, by route template.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    f"{PREFIX}http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route", "status"]
)

UPSTREAM_DURATION = Histogram(
    f"{PREFIX}upstream_request_duration_seconds",
    "Calls to Rakuten and Cubyn, by action and outcome (ok or the error kind).",
    ["service", "action", "outcome"],
    buckets=UPSTREAM_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    f"{PREFIX}upstream_errors_total",
    "Failed calls to Rakuten and Cubyn: transient, quota, credentials, invalid_answer or refused.",
    ["service", "action", "kind"],
)

JOB_RUNS = Counter(
    f"{PREFIX}jobs_total",
    "Job runs, by function and result (succeeded, retried, lease_lost, failed, cancelled).",
    ["function", "result"],
)
JOB_DURATION = Histogram(
    f"{PREFIX}job_duration_seconds", "Time a job run took.", ["function", "result"], buckets=JOB_BUCKETS
)
JOB_RETRIES = Counter(
    f"{PREFIX}job_retries_total",
    "Job runs put back in the queue, by the error that made them wait.",
    ["function", "error"],
)

ORDERS_IMPORTED = Counter(f"{PREFIX}orders_imported_total", "Rakuten sales stored as new orders.")
ORDERS_SKIPPED = Counter(
    f"{PREFIX}orders_skipped_total", "Sales not sent to Cubyn, by the reason's code.", ["reason"]
)
ORDERS_FAILED = Counter(f"{PREFIX}orders_failed_total", "Orders that reached the failed state.")
RAKUTEN_ACTIONS = Counter(
    f"{PREFIX}rakuten_actions_total",
    "Item actions on Rakuten (accept, refuse, cancel, tracking), by outcome.",
    ["action", "outcome"],
)
STOCK_FILES = Counter(f"{PREFIX}stock_files_total", "Stock files that ended, by their final status.", ["status"])
STOCK_FILE_SKUS = Histogram(
    f"{PREFIX}stock_file_skus",
    "SKUs per stock file sent to Rakuten.",
    buckets=(1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000),
)
WEBHOOK_EVENTS = Counter(
    f"{PREFIX}webhook_events_total",
    "Cubyn webhook deliveries, by event type and result (accepted, duplicate, invalid_signature, ...).",
    ["type", "result"],
)
LEASE_TAKEOVERS = Counter(
    f"{PREFIX}lease_takeovers_total",
    "Leases a worker lost while working (another took the row over, or it expired unrenewed), by table.",
    ["table"],
)
leases.LOST_OBSERVERS.append(lambda table: LEASE_TAKEOVERS.labels(table).inc())
