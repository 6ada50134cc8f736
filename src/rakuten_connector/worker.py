"""The arq worker: it runs the jobs and ticks each domain's `tasks.py` declares, and a heartbeat tick that
`rakuten-connector worker check` reads.

Jobs may run more than once (arq's rule, and ours after a crash): each one re-reads the database and first
checks that there is still something to do. Which error goes to which layer:
- Rakuten or Cubyn unavailable, Rakuten's quota, the database away, an order busy: this job runs again
  (arq `Retry`) after the jittered `RETRY_JOB_*` backoff (Rakuten's quota, Cubyn's rate limit: a random
  moment shortly after the time they give);
- a lease taken over by another worker: the job ends quietly, the other worker finishes the work;
- what a step itself plans (a parcel to try again, a poll that failed, a stock file): written on the row
  (`next_check_at`, `next_import_at`, the stock state) with its own backoff, and picked up by the ticks;
- credentials refused: the connection is `credentials_invalid` (`connections.service.credentials_refused`);
- anything else is a bug: the job fails and arq records it.
docs/architecture.md has the whole table.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import structlog
import uvloop
from arq import Retry, cron
from arq.cron import CronJob
from arq.worker import Function, Worker, func
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError

from rakuten_connector.clients.cubyn import CubynRateLimited, CubynTransientError
from rakuten_connector.clients.rakuten import RakutenQuotaExceeded, RakutenTransientError
from rakuten_connector.heartbeat import HEARTBEAT_EVERY_SECONDS, heartbeat
from rakuten_connector.kit.backoff import Backoff, spread_after
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import is_database_unavailable
from rakuten_connector.kit.leases import LeaseLost
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.kit.queue import redis_settings
from rakuten_connector.metrics import state as metrics_state
from rakuten_connector.metrics.families import JOB_DURATION, JOB_RETRIES, JOB_RUNS
from rakuten_connector.orders import tasks as orders_tasks
from rakuten_connector.orders.order_lease import OrderBusy
from rakuten_connector.runtime import MAX_JOBS, Runtime
from rakuten_connector.settings import Settings, get_settings
from rakuten_connector.stock import tasks as stock_tasks
from rakuten_connector.tasks import JobWork, Tick
from rakuten_connector.webhooks import tasks as webhooks_tasks

log = structlog.get_logger(__name__)

T = TypeVar("T")
JOB_TIMEOUT_SECONDS = 600


# How long `serve` waits before starting again after losing Redis (jittered, so the workers that lost it
# together do not all reconnect at the same second).
REDIS_LOST_BACKOFF = Backoff(base=1.0, cap=30.0)


def _retry_delay(ctx: dict[str, Any], exc: Exception) -> float:
    """Seconds before the job's next try. An upstream that said when it opens again (Rakuten's quota at
    `retry_at`, Cubyn's `retry_after`) is tried a random moment shortly after (`spread_after`), so the
    shops it stopped together come back apart; anything else waits the jittered `RETRY_JOB_*` backoff."""
    now = utcnow()
    if isinstance(exc, RakutenQuotaExceeded):
        return max(1.0, (spread_after(exc.retry_at) - now).total_seconds())
    if isinstance(exc, CubynRateLimited) and exc.retry_after:
        return (spread_after(now + timedelta(seconds=exc.retry_after)) - now).total_seconds()
    rt: Runtime = ctx["runtime"]
    return rt.settings.job_backoff.seconds(ctx.get("job_try", 1))


def _database_away(exc: BaseException) -> bool:
    """The database went away (restart, failover, refusing connections): the pool reconnects later."""
    return isinstance(exc, DBAPIError | ConnectionError) and is_database_unavailable(exc)


TRANSIENT = (RakutenTransientError, RakutenQuotaExceeded, CubynTransientError, OrderBusy)


async def _run(ctx: dict[str, Any], what: str, coro: Awaitable[T]) -> T | None:
    """The job's work; None when its lease was taken over. A transient failure, or the database being
    away, is tried again later (arq `Retry`); the job re-reads what it had done. Every run is counted by
    its result, and its log lines carry the job's id, function and try."""
    started = time.perf_counter()
    result = "failed"
    try:
        with structlog.contextvars.bound_contextvars(
            job_id=ctx.get("job_id"), function=what, **{"try": ctx.get("job_try", 1)}
        ):
            value = await _retried(ctx, what, coro)
        result = "succeeded"
        return value
    except LeaseLost:
        # Another worker took the row over (this one was too slow, or cut off from the database): the
        # work is theirs now, and this job ends without writing anything more.
        result = "lease_lost"
        log.info("job_lease_lost", job=what)
        return None
    except Retry:
        result = "retried"
        raise
    except asyncio.CancelledError:
        result = "cancelled"
        raise
    finally:
        JOB_RUNS.labels(what, result).inc()
        JOB_DURATION.labels(what, result).observe(time.perf_counter() - started)


async def _retried(ctx: dict[str, Any], what: str, coro: Awaitable[T]) -> T:
    try:
        return await coro
    except Exception as exc:
        if isinstance(exc, LeaseLost) or (not isinstance(exc, TRANSIENT) and not _database_away(exc)):
            raise
        delay = _retry_delay(ctx, exc)
        JOB_RETRIES.labels(what, type(exc).__name__).inc()
        log.info("job_retry", job=what, error=type(exc).__name__, defer_seconds=round(delay, 1))
        raise Retry(defer=delay) from None


def _job(name: str, work: JobWork) -> Function:
    async def job(ctx: dict[str, Any], argument: Any) -> object:
        return await _run(ctx, name, work(ctx["runtime"], argument))

    job.__qualname__ = job.__name__ = name
    return func(job, name=name)


async def _tick(what: str, coro: Awaitable[int]) -> int:
    """A cron job runs again at its next tick: while the database is away, it says so and waits for it."""
    started = time.perf_counter()
    result = "failed"
    try:
        with structlog.contextvars.bound_contextvars(function=what):
            done = await coro
        result = "succeeded"
        return done
    except asyncio.CancelledError:
        result = "cancelled"
        raise
    except Exception as exc:
        if not _database_away(exc):
            raise
        result = "skipped"
        log.warning("tick_skipped_database_unavailable", job=what, error=type(exc).__name__)
        return 0
    finally:
        JOB_RUNS.labels(what, result).inc()
        JOB_DURATION.labels(what, result).observe(time.perf_counter() - started)


def _cron(tick: Tick) -> CronJob:
    async def run(ctx: dict[str, Any]) -> int:
        return await _tick(tick.name, tick.work(ctx["runtime"]))

    run.__qualname__ = run.__name__ = tick.name
    # Named by its coroutine: arq calls it `cron:<name>`, the id prefix of its runs.
    return cron(run, second=set(tick.seconds), run_at_startup=True, timeout=tick.timeout)


HEARTBEAT = cron(
    heartbeat,
    second=set(range(0, 60, HEARTBEAT_EVERY_SECONDS)),
    run_at_startup=True,
    timeout=HEARTBEAT_EVERY_SECONDS,
)
# The worker runs what the domains declare, under the names their jobs.py queue.
DOMAINS = (orders_tasks, stock_tasks, webhooks_tasks)
JOBS = {name: _job(name, work) for domain in DOMAINS for name, work in domain.JOBS.items()}
TICKS = {tick.name: _cron(tick) for domain in DOMAINS for tick in domain.TICKS}


def build_worker(settings: Settings, **overrides: Any) -> Worker:
    async def startup(ctx: dict[str, Any]) -> None:
        ctx["runtime"] = runtime = Runtime.start(settings)
        ctx["stop_gauges"] = metrics_state.watch(runtime.engine, ctx["redis"])

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "stop_gauges" in ctx:
            ctx.pop("stop_gauges")()
        runtime: Runtime | None = ctx.get("runtime")
        if runtime is not None:
            await runtime.close()

    options: dict[str, Any] = {
        "functions": list(JOBS.values()),
        "cron_jobs": [*TICKS.values(), HEARTBEAT],
        "redis_settings": redis_settings(settings.redis_url),
        "on_startup": startup,
        "on_shutdown": shutdown,
        "max_jobs": MAX_JOBS,
        "job_timeout": JOB_TIMEOUT_SECONDS,
        "keep_result": 0,
        "max_tries": settings.retry_job_max_tries,
        "poll_delay": 0.2,
        "handle_signals": True,
    }
    options.update(overrides)
    return Worker(**options)


async def close_worker(worker: Worker) -> None:
    """Stop a worker: cancel its running jobs as arq's close() does, without re-raising their cancellation
    (arq's close() gathers them and would, skipping the shutdown hook). Their work is redone from the
    database (retries, sweeps)."""
    for task in worker.tasks.values():
        task.cancel()
    await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
    worker.tasks.clear()
    # Closing talks to Redis (health-check key): when Redis is the problem, that fails too.
    with contextlib.suppress(RedisError, OSError):
        await worker.close()


@asynccontextmanager
async def running_in_background(settings: Settings) -> AsyncIterator[None]:
    """A worker in this event loop while the block runs (the demo, tests); this process keeps its signals."""
    worker = build_worker(settings, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await close_worker(worker)


async def serve(settings: Settings) -> None:
    """Run the worker; when Redis goes away for longer than the client's retries, start again after the
    `REDIS_LOST_BACKOFF` wait of this loss (the first, the second...)."""
    for losses in itertools.count(1):
        worker = build_worker(settings)
        try:
            # async_run (not main) gives arq the task its SIGTERM/SIGINT handler cancels.
            await worker.async_run()
            return
        except asyncio.CancelledError:
            return  # stopped by a signal: running jobs were cancelled and will be retried or swept
        except (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError) as exc:
            delay = REDIS_LOST_BACKOFF.seconds(losses)
            log.warning("worker_redis_lost", error=type(exc).__name__, restart_in_seconds=round(delay, 1))
        finally:
            await close_worker(worker)
        await asyncio.sleep(delay)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(settings))
