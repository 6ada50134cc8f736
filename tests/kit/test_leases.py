"""Database leases: one holder at a time, even two jobs of one process; expiry frees a dead holder's row."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow

TTL = timedelta(seconds=30)


async def _connection(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session:
        connection = Connection(merchant_id="m", name="n", seller_id="s", seller_key="s")
        session.add(connection)
        await session.commit()
        return connection.id


async def test_two_holds_of_one_process_exclude_each_other(sessions: async_sessionmaker[AsyncSession]) -> None:
    row = await _connection(sessions)
    owner = leases.new_owner()
    async with (
        leases.held(sessions, Connection, row, owner, TTL) as first,
        leases.held(sessions, Connection, row, owner, TTL) as second,
    ):
        assert (first, second) == (True, False)
    async with leases.held(sessions, Connection, row, owner, TTL) as again:
        assert again  # released on exit


async def test_racing_holders_only_one_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    row = await _connection(sessions)
    wins = 0
    gate = asyncio.Event()

    async def contender() -> None:
        nonlocal wins
        async with leases.held(sessions, Connection, row, leases.new_owner(), TTL) as mine:
            if mine:
                wins += 1
                await gate.wait()

    tasks = [asyncio.create_task(contender()) for _ in range(6)]
    await asyncio.sleep(0.5)
    gate.set()
    await asyncio.gather(*tasks)
    assert wins == 1


async def test_an_expired_lease_is_taken_over(sessions: async_sessionmaker[AsyncSession]) -> None:
    row = await _connection(sessions)
    assert await leases.acquire(sessions, Connection, row, "dead-worker", TTL)
    assert not await leases.acquire(sessions, Connection, row, "other", TTL)
    async with sessions() as session:
        await session.execute(update(Connection).values(lease_until=utcnow() - timedelta(seconds=1)))
        await session.commit()
    assert await leases.acquire(sessions, Connection, row, "other", TTL)
    await leases.release(sessions, Connection, row, "dead-worker")  # not the holder: no effect
    assert not await leases.acquire(sessions, Connection, row, "third", TTL)
