"""`config check` and `worker check`: what is wrong is reported with exit code 1, never as a traceback, and
never with a secret in the output (the test greps for each one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import DEVELOPMENT_SECRET_KEY, Settings
from rakuten_connector.worker import running_in_background
from tests.cli.conftest import Cli
from tests.conftest import JWT_SECRET
from tests.e2e.world import sandboxes
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("sessions")


def _checks(answer: dict[str, object]) -> dict[str, bool]:
    checks = answer["checks"]
    assert isinstance(checks, list)
    return {check["name"]: check["ok"] for check in checks}


async def test_everything_answers(cli: Cli, settings: Settings) -> None:
    async with sandboxes() as (rakuten, cubyn):
        env = {"RAKUTEN_BASE_URL": str(rakuten.base_url), "CUBYN_API_URL": str(cubyn.base_url)}
        answer = await cli.json("config", "check", env=env)
        table = await cli("config", "check", env=env)
    assert answer["ok"] is True
    assert _checks(answer) == dict.fromkeys(
        ["settings", "database", "migrations", "redis", "rakuten", "cubyn"], True
    )
    assert answer["settings"]["DATABASE_URL"] == settings.database_url
    assert answer["settings"]["IMPORT_INTERVAL_SECONDS"] == settings.import_interval_seconds
    assert answer["settings"]["APP_ENV"] == "test"
    assert table.exit_code == 0, table.output
    assert "at head" in table.stdout
    assert "RAKUTEN_BASE_URL" in table.stdout


async def test_no_secret_is_ever_printed_and_what_does_not_answer_is_reported(
    cli: Cli, settings: Settings, test_db_kind: str
) -> None:
    port = free_port()
    # Passwords with the characters a URL splitter reads as the end of the password.
    secrets = {"redis-CANARY#pw", "rakuten-CANARY-pw", JWT_SECRET, settings.secret_keys.get_secret_value()}
    env = {
        "REDIS_URL": f"redis://:redis-CANARY#pw@127.0.0.1:{port}/0",
        "RAKUTEN_BASE_URL": f"https://user:rakuten-CANARY-pw@127.0.0.1:{port}/?pwd=rakuten-CANARY-pw",
    }
    if test_db_kind == "postgresql":
        # The test server trusts local connections: the password is carried, and must not be shown.
        env["DATABASE_URL"] = settings.database_url.replace("://postgres@", "://postgres:pg-CANARY?pw@")
        secrets.add("pg-CANARY?pw")
    answer = await cli.json("config", "check", env=env, code=1)
    table = await cli("config", "check", env=env)
    assert _checks(answer) == {
        "settings": True,
        "database": True,
        "migrations": True,
        "redis": False,
        "rakuten": False,
        "cubyn": False,  # https://cubyn.test resolves nowhere
    }
    assert answer["settings"]["SECRET_KEYS"] == "*** (1 key(s))"
    assert answer["settings"]["AUTH_JWT_SECRET"] == "***"
    assert answer["settings"]["REDIS_URL"] == f"redis://:***@127.0.0.1:{port}/0"
    assert table.exit_code == 1
    assert "Error: something is wrong: redis, rakuten, cubyn" in table.stderr
    assert "Traceback" not in table.output
    for secret in secrets:
        assert secret not in table.output
        assert secret not in str(answer)


async def test_a_database_behind_the_code_is_reported(cli: Cli, tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"}
    answer = await cli.json("config", "check", env=env, code=1)
    (migrations,) = [c for c in answer["checks"] if c["name"] == "migrations"]
    assert migrations["ok"] is False
    assert migrations["detail"].startswith("the database is at no revision, the code at ")
    assert migrations["detail"].endswith("run `rakuten-connector migrate`")


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite:////nonexistent/folder/x.db", "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"]
)
async def test_a_database_that_does_not_answer_is_reported(cli: Cli, url: str) -> None:
    answer = await cli.json("config", "check", env={"DATABASE_URL": url}, code=1)
    checks = {c["name"]: c for c in answer["checks"]}
    assert (checks["database"]["ok"], checks["migrations"]["ok"]) == (False, False)
    assert checks["database"]["detail"].startswith("does not answer (")


async def test_invalid_settings_are_named_never_shown(cli: Cli) -> None:
    env = {"APP_ENV": "production", "SECRET_KEYS": DEVELOPMENT_SECRET_KEY, "IMPORT_INTERVAL_SECONDS": "0"}
    result = await cli("config", "check", env=env)
    assert result.exit_code == 1
    assert "IMPORT_INTERVAL_SECONDS" in result.stderr
    assert DEVELOPMENT_SECRET_KEY not in result.output
    assert "Traceback" not in result.output
    env.pop("IMPORT_INTERVAL_SECONDS")
    answer = await cli.json("config", "check", env=env, code=1)
    assert answer["error"]["code"] == "invalid_settings"
    assert "SECRET_KEYS still holds the development key" in answer["error"]["message"]
    assert DEVELOPMENT_SECRET_KEY not in answer["error"]["message"]


async def test_worker_check_fails_when_no_worker_runs(cli: Cli) -> None:
    result = await cli("worker", "check")
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: no worker ran its heartbeat in the last 60 s")
    assert await cli.json("worker", "check", code=1) == {"ok": False, "last_heartbeat": None, "age_seconds": None}


async def test_worker_check_passes_while_a_worker_runs(cli: Cli, settings: Settings) -> None:
    async with running_in_background(settings):

        async def answered() -> bool:
            return (await cli("worker", "check")).exit_code == 0

        await wait_until(answered, what="the worker's first heartbeat", every=0.5)
        answer = await cli.json("worker", "check")
    assert answer["ok"] is True
    assert 0 <= answer["age_seconds"] < 60


async def test_worker_check_says_when_redis_does_not_answer(cli: Cli) -> None:
    result = await cli(
        "worker", "check", "--timeout", "2", env={"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Redis does not answer (")
    assert "Traceback" not in result.output
