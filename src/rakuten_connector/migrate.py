"""Run the alembic migrations from code (CLI, demo, tests).

The alembic environment (`env.py`, `script.py.mako`, `versions/`) ships inside the package, so an installed
wheel migrates with no file of the source tree: the configuration is built here, not read from
`alembic.ini` (which stays at the root for developers' `alembic revision --autogenerate` and points at the
same folder).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config


def script_location() -> Path:
    """The packaged alembic environment, as the folder alembic reads its scripts from."""
    location = resources.files("rakuten_connector") / "migrations"
    # Alembic needs real files (it lists versions/ and loads env.py by path): an import from a zip
    # archive would hand over something else.
    if not isinstance(location, Path) or not (location / "env.py").is_file():
        raise RuntimeError(f"the alembic environment is not a folder on disk: {location}")
    return location


def alembic_config(database_url: str | None = None) -> Config:
    """The packaged environment on `database_url` (else the settings' DATABASE_URL). env.py leaves logging
    as the process configured it: alembic's lines join the process's JSON stream."""
    config = Config()
    # ConfigParser interpolates '%': a folder name holding one must not be read as a reference.
    config.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Blocking: call from a thread when an event loop is running."""
    command.upgrade(alembic_config(database_url), revision)
