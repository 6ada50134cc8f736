"""One alembic history for SQLite and PostgreSQL: it builds exactly the models' schema, and goes back down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import bindparam, inspect, text
from sqlalchemy.engine import Connection as SyncConnection

from rakuten_connector.db import UTCDateTime, create_engine
from rakuten_connector.kit.databases import scratch_database
from rakuten_connector.migrate import alembic_config, upgrade
from rakuten_connector.models import Base
from tests.conftest import POSTGRES_ADMIN_URL


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
    await asyncio.to_thread(upgrade, empty_database, configure_logger=False)
    engine = create_engine(empty_database)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
        config = alembic_config(empty_database, configure_logger=False)
        await asyncio.to_thread(command.downgrade, config, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await asyncio.to_thread(upgrade, empty_database, configure_logger=False)
        async with engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_the_purchases_already_sent_to_cubyn_are_recorded_per_seller(empty_database: str) -> None:
    await asyncio.to_thread(upgrade, empty_database, "0002", configure_logger=False)
    engine = create_engine(empty_database)
    connection_row = (
        "INSERT INTO connections (id, merchant_id, name, seller_id, seller_key, stock_sync_enabled, paused, state,"
        " created_at, updated_at, import_failures) VALUES (:id, 'm', 'n', 'Shop', 'shop', true, false, :state,"
        " '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00', 0)"
    )
    order_row = (
        "INSERT INTO orders (id, connection_id, purchase_id, state, imported_at, updated_at, attempts)"
        " VALUES (:id, :connection, :purchase, :state, :at, :at, 0)"
    )
    try:
        async with engine.begin() as conn:
            await conn.execute(text(connection_row), {"id": "c1", "state": "disconnected"})
            await conn.execute(text(connection_row), {"id": "c2", "state": "active"})
            for row in (
                ("o1", "c1", "100", "shipped", "2026-01-01 10:00:00+00"),
                ("o2", "c2", "100", "imported", "2026-01-02 10:00:00+00"),  # the duplicate this table prevents
                ("o3", "c1", "101", "skipped", "2026-01-01 10:00:00+00"),  # never sent to Cubyn
                ("o4", "c2", "102", "importing", "2026-01-02 10:00:00+00"),
            ):
                values = dict(zip(("id", "connection", "purchase", "state"), row, strict=False))
                at = datetime.fromisoformat(row[4])
                await conn.execute(
                    text(order_row).bindparams(bindparam("at", type_=UTCDateTime())), values | {"at": at}
                )
        await asyncio.to_thread(upgrade, empty_database, configure_logger=False)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT seller_key, purchase_id, connection_id, order_id FROM imported_purchases")
                )
            ).all()
        assert sorted(tuple(row) for row in rows) == [("shop", "100", "c1", "o1"), ("shop", "102", "c2", "o4")]
    finally:
        await engine.dispose()
