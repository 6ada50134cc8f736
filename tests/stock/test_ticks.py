"""The stock ticks: due runs and syncs are enqueued from the database; nightly syncs start once per night."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from rakuten_connector.stock import ticks
from rakuten_connector.stock.models import StockState, StockSync
from rakuten_connector.stock.scheduling import next_full_sync_at
from tests.factories import add_connection


@pytest.fixture
async def rt(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Runtime]:
    runtime = Runtime.start(settings.model_copy(update={"stock_full_sync_enabled": True}))
    yield runtime
    await runtime.close()


def test_each_connection_syncs_at_its_own_minute_of_the_night() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    at = next_full_sync_at("c1", now, 2)
    assert (at.date(), at.hour) == (datetime(2026, 11, 28).date(), 2)
    assert next_full_sync_at("c1", at - timedelta(seconds=1), 2) == at
    assert next_full_sync_at("c1", at, 2) == at + timedelta(days=1)


async def test_the_nightly_sync_starts_once_when_due(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession]
) -> None:
    connection_id = await add_connection(sessions)
    await add_connection(sessions, seller_key="off", stock_sync_enabled=False)
    assert await ticks.nightly(rt) == 0  # first sight: the night is planned
    async with sessions() as session:
        state = await session.get_one(StockState, connection_id)
        assert state.next_full_sync_at is not None
        assert state.next_full_sync_at > utcnow()
        state.next_full_sync_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    assert await ticks.nightly(rt) == 1
    async with sessions() as session:
        state = await session.get_one(StockState, connection_id)
        state.next_full_sync_at = utcnow() - timedelta(seconds=1)
        await session.commit()
    assert await ticks.nightly(rt) == 0  # the first one is still queued
    async with sessions() as session:
        syncs = (await session.scalars(select(StockSync))).all()
        assert [(s.connection_id, s.trigger, s.status) for s in syncs] == [(connection_id, "scheduled", "queued")]
        assert await session.scalar(select(func.count()).select_from(StockState)) == 1


async def test_nightly_syncs_can_be_turned_off(rt: Runtime, sessions: async_sessionmaker[AsyncSession]) -> None:
    await add_connection(sessions)
    rt.settings = rt.settings.model_copy(update={"stock_full_sync_enabled": False})
    assert await ticks.nightly(rt) == 0
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(StockState)) == 0


async def test_the_tick_enqueues_what_the_database_says_is_due(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession]
) -> None:
    due, later = await add_connection(sessions), await add_connection(sessions, seller_key="later")
    async with sessions() as session:
        session.add(StockState(id=due, next_run_at=utcnow() - timedelta(seconds=1)))
        session.add(StockState(id=later, next_run_at=utcnow() + timedelta(hours=1)))
        session.add(StockSync(connection_id=later, status="running", next_run_at=utcnow() - timedelta(seconds=1)))
        await session.commit()
    assert await ticks.tick(rt) == 2
    assert await ticks.tick(rt) == 0  # the same due slots: the jobs are already queued
