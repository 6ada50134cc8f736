"""`rakuten-connector config check` and `rakuten-connector worker check`: whether this deployment can work
(its settings, the database and its schema, Redis, Rakuten's and Cubyn's APIs) and whether a worker runs.
Each exits non-zero when something is wrong, says what, and never prints a secret: secret settings are
masked, and the password of a URL too."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from enum import Enum
from typing import Annotated

import httpx
import typer
from pydantic import BaseModel, SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Connection, text

from rakuten_connector.cli.context import CommandFailed, run_with_settings
from rakuten_connector.cli.output import MARKUP, JsonFlag, Output
from rakuten_connector.db import create_engine
from rakuten_connector.heartbeat import HEARTBEAT_TTL_SECONDS, last_heartbeat
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.logging import REDACTED, redact_text
from rakuten_connector.settings import Settings

config_app = typer.Typer(
    rich_markup_mode=MARKUP, no_args_is_help=True, help="The settings this deployment runs with."
)
Timeout = Annotated[float, typer.Option(min=0.1, help="Seconds each check may take.")]


class Check(BaseModel):
    name: str
    ok: bool
    detail: str


class ConfigReport(BaseModel):
    ok: bool
    settings: dict[str, object]
    checks: list[Check]


class WorkerReport(BaseModel):
    ok: bool
    last_heartbeat: datetime | None
    age_seconds: float | None


def shown_settings(settings: Settings) -> dict[str, object]:
    """Every setting as its environment variable, secrets masked."""
    shown: dict[str, object] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if name == "secret_keys":
            value = f"{REDACTED} ({len(settings.fernet_keys)} key(s))"
        elif isinstance(value, SecretStr):
            value = REDACTED
        elif isinstance(value, str):
            value = redact_text(value)  # a URL's password, a secret in its query
        elif isinstance(value, Enum):
            value = value.value
        shown[name.upper()] = value
    return shown


# alembic is imported by `config check` alone: every command (`worker check` is a container healthcheck)
# starts faster without it.
def _current_heads(connection: Connection) -> tuple[str, ...]:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_heads()


async def _database(settings: Settings, seconds: float) -> list[Check]:
    try:
        engine = create_engine(settings.database_url, pool_size=1)
        try:
            async with asyncio.timeout(seconds), engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                current = set(await connection.run_sync(_current_heads))
        finally:
            await engine.dispose()
    except Exception as exc:  # any failure is the answer of this check
        return [
            Check(name="database", ok=False, detail=f"does not answer ({type(exc).__name__})"),
            Check(name="migrations", ok=False, detail="not checked: the database does not answer"),
        ]
    return [Check(name="database", ok=True, detail="answers"), _migrations(settings, current)]


def _migrations(settings: Settings, current: set[str]) -> Check:
    from alembic.script import ScriptDirectory

    from rakuten_connector.migrate import alembic_config

    try:
        heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    except Exception as exc:  # any failure is the answer of this check
        return Check(
            name="migrations", ok=False, detail=f"the code's migrations cannot be read ({type(exc).__name__})"
        )
    if current == heads:
        return Check(name="migrations", ok=True, detail=f"at head ({', '.join(sorted(heads))})")
    at = ", ".join(sorted(current)) or "no revision"
    detail = f"the database is at {at}, the code at {', '.join(sorted(heads))}: run `rakuten-connector migrate`"
    return Check(name="migrations", ok=False, detail=detail)


async def _redis(settings: Settings, seconds: float) -> Check:
    try:
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=seconds, socket_timeout=seconds)
        try:
            async with asyncio.timeout(seconds):
                await redis.ping()
        finally:
            await redis.aclose()
    except Exception as exc:  # any failure is the answer of this check
        return Check(name="redis", ok=False, detail=f"does not answer ({type(exc).__name__})")
    return Check(name="redis", ok=True, detail="answers")


async def _upstream(http: httpx.AsyncClient, name: str, url: str) -> Check:
    """Whether the base URL answers at all (any HTTP status: no credentials are sent)."""
    started = time.monotonic()
    try:
        response = await http.get(url)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return Check(name=name, ok=False, detail=f"does not answer ({type(exc).__name__})")
    seconds = time.monotonic() - started
    return Check(name=name, ok=True, detail=f"answers (HTTP {response.status_code} in {seconds:.2f} s)")


async def _checks(settings: Settings, seconds: float) -> list[Check]:
    async with httpx.AsyncClient(timeout=seconds, follow_redirects=False) as http:
        database, *others = await asyncio.gather(
            _database(settings, seconds),
            _redis(settings, seconds),
            _upstream(http, "rakuten", settings.rakuten_base_url),
            _upstream(http, "cubyn", settings.cubyn_api_url),
        )
    return [Check(name="settings", ok=True, detail="valid"), *database, *others]


@config_app.command("check")
def config_check(timeout: Timeout = 5.0, as_json: JsonFlag = False) -> None:
    """The settings in effect and whether everything they name answers: exit code 1 when not.

    Secrets are masked. Checks that the database answers and is migrated to the code's head, that Redis
    answers, and that Rakuten's and Cubyn's base URLs answer (any HTTP status; no credentials are sent)."""
    out = Output(as_json)

    async def work(settings: Settings) -> ConfigReport:
        checks = await _checks(settings, timeout)
        return ConfigReport(ok=all(c.ok for c in checks), settings=shown_settings(settings), checks=checks)

    report = run_with_settings(out, work)
    if as_json:
        out.json(report)
    else:
        out.table("Settings", ["setting", "value"], report.settings.items())
        out.table("Checks", ["check", "ok", "detail"], ([c.name, c.ok, c.detail] for c in report.checks))
    if not report.ok:
        if not as_json:
            failed = ", ".join(c.name for c in report.checks if not c.ok)
            out.fail(f"something is wrong: {failed}", "check_failed")
        raise typer.Exit(1)


def worker_check(timeout: Timeout = 5.0, as_json: JsonFlag = False) -> None:
    """Whether a worker runs: exit code 1 unless one ran its heartbeat in the last minute.

    Every worker queues a heartbeat tick every few seconds; none within a minute means no worker runs, or
    none reaches this REDIS_URL, or they are all stuck."""
    out = Output(as_json)

    async def work(settings: Settings) -> WorkerReport:
        try:
            redis = Redis.from_url(settings.redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)
            try:
                at = await last_heartbeat(redis)
            finally:
                await redis.aclose()
        except (RedisError, OSError, ValueError) as exc:
            raise CommandFailed(
                f"Redis does not answer ({type(exc).__name__}): is REDIS_URL right?", "redis"
            ) from None
        age = None if at is None else max(0.0, (utcnow() - at).total_seconds())
        return WorkerReport(ok=at is not None, last_heartbeat=at, age_seconds=age)

    report = run_with_settings(out, work)
    if as_json:
        out.json(report)
        if not report.ok:
            raise typer.Exit(1)
    elif report.age_seconds is None:
        out.fail(f"no worker ran its heartbeat in the last {HEARTBEAT_TTL_SECONDS} s", "no_worker")
    else:
        out.say(f"A worker ran its heartbeat {report.age_seconds:.0f} s ago.")
