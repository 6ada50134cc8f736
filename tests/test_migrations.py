"""One alembic history for SQLite and PostgreSQL: it builds exactly the models' schema, and goes back down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection as SyncConnection

from rakuten_connector.db import create_engine
from rakuten_connector.migrate import alembic_config, upgrade
from rakuten_connector.models import Base
from tests.conftest import POSTGRES_ADMIN_URL
from tests.scratch import scratch_database


@pytest.fixture
async def empty_database(test_db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if test_db_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    async with scratch_database(POSTGRES_ADMIN_URL, "rc_mig", migrate=False) as url:
        yield url


def _differences(connection: SyncConnection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: SyncConnection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_upgrade_builds_the_models_schema_and_downgrade_removes_it(empty_database: str) -> None:
    await asyncio.to_thread(upgrade, empty_database)
    engine = create_engine(empty_database)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
        config = alembic_config(empty_database)
        await asyncio.to_thread(command.downgrade, config, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await asyncio.to_thread(upgrade, empty_database)
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await engine.dispose()
