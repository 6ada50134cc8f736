"""Alembic environment: one history for SQLite and PostgreSQL, run through the async engine."""

from __future__ import annotations

import asyncio
import logging

from alembic import context
from sqlalchemy.engine import Connection as SyncConnection

from rakuten_connector.db import create_engine
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.models import Base
from rakuten_connector.settings import get_settings

config = context.config
# The service's runs (rakuten_connector.migrate) keep the logging their process set up; the developers'
# `alembic` command set up none: it gets the same JSON stream, never the ini file's text loggers.
if not logging.getLogger().handlers:
    configure_logging(get_settings().log_level)

target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def _run(connection: SyncConnection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
