"""What the operator commands share: the service's own settings (`get_settings`, the same environment and
`.env`), the database, queue and secret box they act through (the services the API's routes use, as an
operator who sees every merchant), and the failures an operator can act on turned into a message and an
exit code instead of a traceback."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.cli.output import Output
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.kit.auth import Principal, Role
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.kit.queue import AfterCommit, JobQueue
from rakuten_connector.settings import Settings, get_settings

T = TypeVar("T")
# Who the commands act as: an operator, who sees every merchant's connections.
OPERATOR = Principal(subject="rakuten-connector-cli", merchant_id="", role=Role.OPERATOR)
CHECK_HINT = "`rakuten-connector config check` says more"
# aiosqlite's thread per connection (named after its function), and how long a command waits for them.
SQLITE_THREAD = "_connection_worker_thread"
SQLITE_THREADS_WAIT_SECONDS = 2.0


class CommandFailed(Exception):
    """What stops a command, in words for the operator."""

    def __init__(self, message: str, code: str = "failed", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message, self.code, self.exit_code = message, code, exit_code


@dataclass(frozen=True)
class Operator:
    """What a command acts through."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    queue: JobQueue
    box: SecretBox

    def jobs(self) -> AfterCommit:
        """Jobs to send once the transaction committed, as a route sends them."""
        return AfterCommit(self.queue)


def _problem(error: ErrorDetails) -> str:
    # Settings hide the input in their errors: a message names the setting, never its value.
    name = ".".join(str(part) for part in error["loc"]).upper()
    return f"{name}: {error['msg']}" if name else error["msg"]


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise CommandFailed(f"the settings are not valid: {problems}", "invalid_settings") from None


def _log_level(configured: str) -> str:
    """Warnings and errors only (the terminal is for the answer), unless LOG_LEVEL asks for even fewer."""
    level = logging.getLevelName(configured.upper())
    return configured.upper() if isinstance(level, int) and level > logging.WARNING else "WARNING"


def _database_trouble(exc: BaseException) -> str:
    # Only what kind of failure it was: the statement and its parameters are never shown.
    kind = type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
    return f"the database failed ({kind}): is DATABASE_URL right, the database up and migrated? {CHECK_HINT}"


def _sqlite_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.endswith(f"({SQLITE_THREAD})")}


async def _settled(settings: Settings, work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """`work`, then a wait for the SQLite threads it started: aiosqlite closes a connection that failed to
    open from its own thread, later, through the event loop; once the loop is closed, that thread dies with
    a traceback the operator would read under the command's own message."""
    before = _sqlite_threads() if settings.database_url.startswith("sqlite") else None
    try:
        return await work(settings)
    finally:
        if before is not None:
            deadline = time.monotonic() + SQLITE_THREADS_WAIT_SECONDS
            for thread in _sqlite_threads() - before:
                await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))


def run_with_settings(out: Output, work: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    """Run `work` on the settings in an event loop of its own; what an operator can act on ends the command
    with its message and exit code 1 (130 when interrupted)."""
    try:
        settings = load_settings()
        configure_logging(_log_level(settings.log_level))
        # A loop of its own that leaves the thread's event loop alone.
        with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
            return runner.run(_settled(settings, work))
    except CommandFailed as exc:
        out.fail(exc.message, exc.code, exc.exit_code)
    except ApiError as exc:
        out.fail(exc.message, exc.code)
    except (DBAPIError, OSError) as exc:
        out.fail(_database_trouble(exc), "database_unavailable")
    except KeyboardInterrupt:
        out.fail("interrupted", "interrupted", 130)


def run(out: Output, work: Callable[[Operator], Coroutine[Any, Any, T]]) -> T:
    """Run `work` as an operator (see `run_with_settings`)."""

    async def as_operator(settings: Settings) -> T:
        engine = create_engine(settings.database_url, pool_size=2)
        queue = JobQueue(settings.redis_url)
        try:
            return await work(Operator(settings, session_factory(engine), queue, SecretBox(settings.fernet_keys)))
        finally:
            await queue.close()
            await engine.dispose()

    return run_with_settings(out, as_operator)
