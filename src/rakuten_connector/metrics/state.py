"""Gauges read from the database and Redis when `/metrics` is scraped: what is waiting, not what happened.

prometheus-client collects in the scraping thread, while the engine and the Redis pool belong to the
process' event loop: the reading runs on that loop (`run_coroutine_threadsafe`) and the scrape waits for it,
so `/metrics` must be generated outside the loop's thread (`serving` does). One reading serves the scrapes
of the next few seconds: many scrapers cost the database one set of grouped counts, on indexed columns.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from arq.constants import default_queue_name
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from rakuten_connector.connections.models import Connection, ConnectionState, connection_status
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.metrics.families import PREFIX
from rakuten_connector.orders.models import Order
from rakuten_connector.orders.scheduler import SWEPT_STATES
from rakuten_connector.stock.models import StockItem, StockStatus
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent

log = structlog.get_logger(__name__)

READ_TIMEOUT_SECONDS = 5.0
FRESH_FOR_SECONDS = 5.0
# The sweeps re-queue due work every minute: a step still waiting this long after it was due is stuck.
OVERDUE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Snapshot:
    orders: dict[str, int]
    connections: dict[str, int]
    orders_overdue: int
    webhook_events_pending: int
    stock_skus_pending: int
    queued_jobs: int
    oldest_queued_job_age: float


@dataclass
class Source:
    """Where one process reads its state: its engine and Redis, on the loop they belong to."""

    engine: AsyncEngine
    redis: Redis
    loop: asyncio.AbstractEventLoop
    read_at: float = 0.0
    snapshot: Snapshot | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_sources: list[Source] = []


def watch(engine: AsyncEngine, redis: Redis) -> Callable[[], None]:
    """Serve the gauges from this engine and Redis (called on their loop); returns what stops it."""
    source = Source(engine, redis, asyncio.get_running_loop())
    _sources.append(source)
    return lambda: _sources.remove(source)


async def read_database(engine: AsyncEngine) -> tuple[dict[str, int], dict[str, int], int, int, int]:
    overdue_before = utcnow() - OVERDUE_AFTER
    async with engine.connect() as conn:
        orders = dict((await conn.execute(select(Order.state, func.count()).group_by(Order.state))).all())
        connections: dict[str, int] = {}
        grouped = select(Connection.state, Connection.paused, func.count()).group_by(
            Connection.state, Connection.paused
        )
        for state, paused, count in await conn.execute(grouped):
            status = connection_status(state, paused).value
            connections[status] = connections.get(status, 0) + count
        overdue = select(func.count()).select_from(Order).join(Connection, Connection.id == Order.connection_id)
        overdue = overdue.where(
            Order.next_check_at <= overdue_before,
            Order.state.in_(SWEPT_STATES),
            Connection.state != ConnectionState.DISCONNECTED.value,
        )
        pending_events = select(func.count()).where(WebhookEvent.status == EventStatus.PENDING.value)
        pending_skus = select(func.count()).where(StockItem.status == StockStatus.PENDING.value)
        return (
            orders,
            connections,
            (await conn.scalar(overdue)) or 0,
            (await conn.scalar(pending_events)) or 0,
            (await conn.scalar(pending_skus)) or 0,
        )


async def read_queue(redis: Redis) -> tuple[int, float]:
    """Jobs in arq's queue, and how long the oldest one that may start has waited (0: none)."""
    now_ms = time.time() * 1000
    queued = await redis.zcard(default_queue_name)
    due = await redis.zrangebyscore(default_queue_name, "-inf", now_ms, start=0, num=1, withscores=True)
    oldest = max(0.0, (now_ms - due[0][1]) / 1000) if due else 0.0
    return int(queued), oldest


async def read(source: Source) -> Snapshot:
    orders, connections, overdue, events, skus = await read_database(source.engine)
    queued, oldest = await read_queue(source.redis)
    return Snapshot(orders, connections, overdue, events, skus, queued, oldest)


def _current(source: Source) -> Snapshot:
    if _on_loop_thread(source.loop):
        raise RuntimeError("the state gauges are collected outside the event loop's thread")
    with source.lock:
        if source.snapshot is None or time.monotonic() - source.read_at > FRESH_FOR_SECONDS:
            future = asyncio.run_coroutine_threadsafe(read(source), source.loop)
            try:
                source.snapshot = future.result(READ_TIMEOUT_SECONDS)
            except BaseException:
                future.cancel()
                raise
            source.read_at = time.monotonic()
        return source.snapshot


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}{name}", documentation, value=value)


def _labelled(name: str, documentation: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(f"{PREFIX}{name}", documentation, labels=[label])
    for key, value in sorted(values.items()):
        gauge.add_metric([key], value)
    return gauge


def families(snapshot: Snapshot) -> Iterator[Metric]:
    yield _labelled("orders", "Orders by state.", "state", snapshot.orders)
    yield _labelled("connections", "Connections by status.", "status", snapshot.connections)
    yield _gauge(
        "orders_overdue", "Orders whose next step has been due for over 15 minutes.", snapshot.orders_overdue
    )
    yield _gauge(
        "webhook_events_pending", "Webhook events stored and not handled yet.", snapshot.webhook_events_pending
    )
    yield _gauge(
        "stock_skus_pending", "SKUs whose stock is waiting to be sent to Rakuten.", snapshot.stock_skus_pending
    )
    yield _gauge("queue_jobs", "Jobs in the queue (due or deferred).", snapshot.queued_jobs)
    yield _gauge(
        "queue_oldest_job_age_seconds",
        "How long the oldest due job has waited for a worker.",
        snapshot.oldest_queued_job_age,
    )


class StateCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        if not _sources:
            return
        up = 1
        try:
            yield from families(_current(_sources[0]))
        except Exception as exc:  # the database or Redis away: say so, keep serving the other series
            log.warning("metrics_state_unreadable", error=type(exc).__name__)
            up = 0
        yield _gauge("state_up", "1 when the database and Redis gauges could be read at this scrape.", up)


REGISTRY.register(StateCollector())
