"""Fixtures of this folder."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from tests.upstream_fakes import upstreams

__all__ = ["rt", "upstreams"]


@pytest.fixture
async def rt(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Runtime]:
    """A worker's runtime on the test database and Redis db (after `sessions`, which empties the tables)."""
    runtime = Runtime.start(settings)
    yield runtime
    await runtime.close()
