"""Run the alembic migrations from code (CLI, demo, tests)."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config


def _alembic_ini() -> Path:
    candidates = [
        Path(os.environ.get("ALEMBIC_CONFIG", "")),
        Path.cwd() / "alembic.ini",
        Path(__file__).resolve().parents[2] / "alembic.ini",
    ]
    for path in candidates:
        if path.name and path.is_file():
            return path
    raise FileNotFoundError("alembic.ini not found: run from the project folder or set ALEMBIC_CONFIG")


def alembic_config(database_url: str | None = None, *, configure_logger: bool = True) -> Config:
    config = Config(str(_alembic_ini()))
    config.attributes["configure_logger"] = configure_logger
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head", *, configure_logger: bool = True) -> None:
    """Blocking: call from a thread when an event loop is running."""
    command.upgrade(alembic_config(database_url, configure_logger=configure_logger), revision)
