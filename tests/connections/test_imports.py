"""A connection's import bookkeeping: claiming the due imports, freeing the claims, asking an import now."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.imports import ask_import_now, claim_due_imports, free_import_claims
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from tests.factories import add_connection


async def _connection(sessions: async_sessionmaker[AsyncSession], seller: str, **fields: object) -> str:
    return await add_connection(sessions, seller_id=seller, seller_key=seller, **fields)


async def test_the_due_imports_are_claimed_earliest_first_up_to_the_limit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    earliest = await _connection(sessions, "a", next_import_at=now - timedelta(hours=1))
    later = await _connection(sessions, "b", next_import_at=now - timedelta(minutes=1))
    # Not due, paused, refused, or claimed by a job still queued: none of them is claimed.
    await _connection(sessions, "c", next_import_at=now + timedelta(minutes=1))
    await _connection(sessions, "d", next_import_at=now, paused=True)
    await _connection(sessions, "e", next_import_at=now, state=ConnectionState.CREDENTIALS_INVALID.value)
    await _connection(sessions, "f", next_import_at=now, import_queued_until=now + timedelta(minutes=1))
    until = now + timedelta(minutes=2)
    async with sessions() as session:
        assert await claim_due_imports(session, now, until, 1) == [earliest]
        assert await claim_due_imports(session, now, until, 10) == [later]
        assert await claim_due_imports(session, now, until, 10) == []
        await session.commit()
        assert (await session.get_one(Connection, earliest)).import_queued_until == until


async def test_freeing_claims_leaves_a_connection_claimed_since(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    first, second = now + timedelta(minutes=1), now + timedelta(minutes=2)
    freed = await _connection(sessions, "a", import_queued_until=first)
    claimed_again = await _connection(sessions, "b", import_queued_until=second)
    async with sessions() as session:
        await free_import_claims(session, [freed, claimed_again], first)
        await session.commit()
        assert (await session.get_one(Connection, freed)).import_queued_until is None
        assert (await session.get_one(Connection, claimed_again)).import_queued_until == second


async def test_an_import_asked_now_is_due_now(sessions: async_sessionmaker[AsyncSession]) -> None:
    connection_id = await add_connection(sessions, next_import_at=utcnow() + timedelta(hours=1))
    async with sessions() as session:
        connection = await session.get_one(Connection, connection_id)
        before = utcnow()
        asked_at = ask_import_now(connection)
        assert before <= asked_at <= utcnow()
        assert connection.next_import_at == asked_at
