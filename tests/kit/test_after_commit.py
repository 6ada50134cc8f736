"""`kit/after_commit.py`: what a transaction did is acted upon once it committed, never if it rolled back."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.after_commit import after_commit


async def test_runs_after_the_commit_only(sessions: async_sessionmaker[AsyncSession]) -> None:
    ran: list[str] = []
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("committed"))
        assert ran == []
        await session.commit()
        assert ran == ["committed"]
        await session.commit()  # a later transaction runs it no more
    assert ran == ["committed"]


async def test_a_rollback_drops_what_would_have_run(sessions: async_sessionmaker[AsyncSession]) -> None:
    ran: list[str] = []
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("rolled back"))
        await session.rollback()
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("second"))
        await session.commit()
    assert ran == ["second"]


async def test_a_session_closed_without_commit_runs_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    ran: list[str] = []
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        after_commit(session, lambda: ran.append("closed"))
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        await session.commit()
    assert ran == []
