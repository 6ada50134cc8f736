"""The wheel is the service: built from this tree and installed into a fresh virtualenv, it migrates an empty
database from a folder holding nothing of the source tree (no alembic.ini, no migrations/, no .env).

Offline and quick: the wheel is built with the project's backend from the dev extras (no build isolation),
installed without its dependencies, and those come from this run's virtualenv through a `.pth` line: the
fresh environment's own site-packages comes first on `sys.path`, so `rakuten_connector` is the wheel's, and
the `.pth` files of this virtualenv (the editable install of `src/` among them) are never read.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection as SyncConnection

from rakuten_connector.db import create_engine
from rakuten_connector.migrate import alembic_config
from rakuten_connector.models import Base
from tests.conftest import POSTGRES_ADMIN_URL
from tests.scratch import scratch_database

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rakuten_connector"
# What the children may see of this process' environment: nothing that points at the source tree or
# configures the service (PYTHONPATH, VIRTUAL_ENV, DATABASE_URL... are left out).
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    workdir: Path  # empty: what a container's working folder holds of the source tree

    def run(self, program: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """`program` from the fresh virtualenv's bin/, run from the empty folder."""
        return _run(str(self.venv / "bin" / program), *args, cwd=self.workdir, env=env)


def _run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    environment.update(env or {})
    result = subprocess.run(
        args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    dist = tmp_path_factory.mktemp("dist")
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", str(dist), str(ROOT))
    (wheel,) = dist.glob("rakuten_connector-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = str(venv / "bin" / "python")
    _run(*pip, "--python", python, "install", "--no-deps", "--no-index", str(wheel))
    site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip())
    dependencies = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "rakuten_connector_test_dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))
    return Installed(wheel, venv, tmp_path_factory.mktemp("workdir"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, test_db_kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    if test_db_kind != "postgresql":
        pytest.skip("PostgreSQL runs with TEST_DB=postgresql")
    async with scratch_database(POSTGRES_ADMIN_URL, "rc_pkg", migrate=False) as url:
        yield url


def test_the_wheel_carries_the_alembic_environment(installed: Installed) -> None:
    shipped = {
        path.relative_to(PACKAGE.parent).as_posix()
        for path in (PACKAGE / "migrations").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert {"rakuten_connector/migrations/env.py", "rakuten_connector/migrations/script.py.mako"} <= shipped
    with zipfile.ZipFile(installed.wheel) as wheel:
        assert shipped <= set(wheel.namelist())


def test_the_fresh_virtualenv_runs_the_wheels_own_files(installed: Installed) -> None:
    probe = (
        "import json, rakuten_connector; from rakuten_connector.migrate import script_location; "
        "print(json.dumps({'file': rakuten_connector.__file__, 'version': rakuten_connector.__version__, "
        "'migrations': str(script_location())}))"
    )
    seen = json.loads(installed.run("python", "-c", probe).stdout)
    venv = installed.venv.resolve()
    assert Path(seen["file"]).resolve().is_relative_to(venv)
    assert Path(seen["migrations"]).resolve().is_relative_to(venv)
    assert seen["version"] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _tables(connection: SyncConnection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrate_from_the_wheel_builds_every_table(installed: Installed, empty_database: str) -> None:
    env = {"DATABASE_URL": empty_database, "APP_ENV": "test", "LOG_LEVEL": "WARNING"}
    first = await asyncio.to_thread(installed.run, "rakuten-connector", "migrate", **env)
    assert "database is up to date" in first.stdout
    # The compose file's migrate service runs at every start: a second run finds nothing to do.
    await asyncio.to_thread(installed.run, "rakuten-connector", "migrate", **env)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(empty_database)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables) | {"alembic_version"}
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all() == [head]
    finally:
        await engine.dispose()
