"""`metrics/state.py`: the gauges read from the database and Redis when scraped."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.metrics import state
from rakuten_connector.metrics.serving import metrics_response
from rakuten_connector.orders.models import Order
from rakuten_connector.settings import Settings
from rakuten_connector.stock.models import StockItem
from rakuten_connector.webhooks.models import WebhookEvent
from tests.factories import add_connection

P = "rakuten_connector_"


def _gauges(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def _scrape() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    return _gauges((await metrics_response()).body.decode())


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    live = await add_connection(sessions)
    await add_connection(sessions, seller_id="p", seller_key="p", paused=True)
    gone = await add_connection(sessions, seller_id="g", seller_key="g", state="disconnected")
    now = utcnow()
    late = now - state.OVERDUE_AFTER - timedelta(minutes=1)
    async with sessions() as session:
        session.add_all(
            [
                Order(connection_id=live, purchase_id="1", state="imported", next_check_at=late),
                Order(connection_id=live, purchase_id="2", state="imported", next_check_at=now),
                Order(connection_id=live, purchase_id="3", state="failed"),
                Order(connection_id=gone, purchase_id="4", state="imported", next_check_at=late),
                StockItem(connection_id=live, sku="A", wanted_quantity=1),
                StockItem(connection_id=live, sku="B", wanted_quantity=1, status="pushed"),
                WebhookEvent(connection_id=live, webhook_id="w1", event_type="parcel.updated", payload="{}"),
            ]
        )
        await session.commit()


async def test_the_gauges_say_what_waits(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    await _rows(sessions)
    redis = Redis.from_url(settings.redis_url)
    queued_at_ms = (time.time() - 30) * 1000
    await redis.zadd("arq:queue", {"old": queued_at_ms, "later": (time.time() + 600) * 1000})
    stop = state.watch(engine, redis)
    try:
        gauges = await _scrape()
    finally:
        stop()
        await redis.aclose()
    assert gauges[f"{P}orders"] == {(("state", "imported"),): 3, (("state", "failed"),): 1}
    assert gauges[f"{P}connections"] == {
        (("status", "active"),): 1,
        (("status", "paused"),): 1,
        (("status", "disconnected"),): 1,
    }
    assert gauges[f"{P}orders_overdue"] == {(): 1}  # the disconnected shop's order waits for nothing
    assert gauges[f"{P}webhook_events_pending"] == {(): 1}
    assert gauges[f"{P}stock_skus_pending"] == {(): 1}
    assert gauges[f"{P}queue_jobs"] == {(): 2}
    assert 29 <= gauges[f"{P}queue_oldest_job_age_seconds"][()] < 120
    assert gauges[f"{P}state_up"] == {(): 1}


async def test_a_database_away_says_so_and_keeps_the_other_series(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    unreachable = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    redis = Redis.from_url(settings.redis_url)
    stop = state.watch(unreachable, redis)
    try:
        gauges = await _scrape()
    finally:
        stop()
        await redis.aclose()
        await unreachable.dispose()
    assert gauges[f"{P}state_up"] == {(): 0}
    assert f"{P}orders" not in gauges
    assert f"{P}build_info" in gauges


async def test_scrapes_close_together_read_the_database_once(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[int] = []
    read = state.read

    async def counted(source: state.Source) -> state.Snapshot:
        reads.append(1)
        return await read(source)

    monkeypatch.setattr(state, "read", counted)
    redis = Redis.from_url(settings.redis_url)
    stop = state.watch(engine, redis)
    try:
        await _scrape()
        await _scrape()
    finally:
        stop()
        await redis.aclose()
    assert reads == [1]


async def test_collecting_on_the_loop_thread_is_refused_not_a_deadlock(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    redis = Redis.from_url(settings.redis_url)
    stop = state.watch(engine, redis)
    try:
        gauges = _gauges(generate_latest().decode())  # on the loop's thread: would wait for itself
    finally:
        stop()
        await redis.aclose()
    assert gauges[f"{P}state_up"] == {(): 0}
