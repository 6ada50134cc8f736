"""The worker: its shutdown after a signal cancelled its running jobs, what each job failure becomes, when a
job an upstream stopped tries again, and its restarts after losing Redis."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
import structlog
from arq import Retry, create_pool
from arq.worker import Worker
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from rakuten_connector import heartbeat, worker
from rakuten_connector.clients.cubyn import CubynRateLimited
from rakuten_connector.clients.rakuten import RakutenQuotaExceeded
from rakuten_connector.kit.backoff import QUOTA_SPREAD_SECONDS
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.leases import LeaseLost
from rakuten_connector.kit.queue import redis_settings
from rakuten_connector.orders import jobs as orders_jobs
from rakuten_connector.orders.order_lease import OrderBusy
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from rakuten_connector.stock import jobs as stock_jobs
from rakuten_connector.webhooks import jobs as webhooks_jobs
from rakuten_connector.worker import build_worker, close_worker


async def _worker_with_a_cancelled_job(settings: Settings) -> Worker:
    worker = build_worker(settings, handle_signals=False)
    worker._pool = await create_pool(redis_settings(settings.redis_url))
    job = asyncio.create_task(asyncio.sleep(30))
    worker.tasks["job-1"] = job
    job.cancel()  # what arq's signal handler does to running jobs
    return worker


async def test_arq_close_alone_re_raises_the_cancellation_of_the_jobs(settings: Settings) -> None:
    worker = await _worker_with_a_cancelled_job(settings)
    with pytest.raises(asyncio.CancelledError):
        await worker.close()
    await worker.pool.aclose()


async def test_close_worker_after_a_signal_shuts_down_cleanly(settings: Settings) -> None:
    worker = await _worker_with_a_cancelled_job(settings)
    await close_worker(worker)
    assert worker._pool is None  # closed, shutdown hook run


async def test_close_cancels_jobs_still_running_instead_of_waiting(settings: Settings) -> None:
    worker = build_worker(settings, handle_signals=False)
    worker._pool = await create_pool(redis_settings(settings.redis_url))
    job = asyncio.create_task(asyncio.sleep(30))
    worker.tasks["job-1"] = job
    await asyncio.wait_for(close_worker(worker), 5)
    assert job.cancelled()


@pytest.mark.parametrize(
    "unreachable",
    ["postgresql+asyncpg://postgres@127.0.0.1:1/nothing_listens_here", "sqlite+aiosqlite:////nonexistent/c.db"],
)
async def test_jobs_that_find_the_database_away_are_retried_later(settings: Settings, unreachable: str) -> None:
    runtime = Runtime.start(settings.model_copy(update={"database_url": unreachable}))
    ctx = {"runtime": runtime, "job_try": 2}
    try:
        for name, argument in (
            ("import_connections", [str(uuid.uuid4())]),
            ("import_connection", str(uuid.uuid4())),
            ("check_order", str(uuid.uuid4())),
            ("handle_webhook_event", str(uuid.uuid4())),
        ):
            with pytest.raises(Retry) as retry:
                await worker.JOBS[name].coroutine(ctx, argument)
            # Jittered under the second try's ceiling, RETRY_JOB_BASE_SECONDS * 2 = 4 s.
            assert retry.value.defer_score is not None
            assert 0 <= retry.value.defer_score <= 4000
        for tick in ("schedule_imports", "sweep", "stock_tick"):
            assert await worker.TICKS[tick].coroutine(ctx) == 0  # run again at the next tick
    finally:
        await runtime.close()


async def test_a_job_whose_lease_was_taken_over_ends_quietly_and_a_bug_is_not_retried() -> None:
    async def taken_over() -> str:
        raise LeaseLost("another worker holds the order now")

    async def broken() -> str:
        raise KeyError("a bug")

    assert await worker._run({"job_try": 1}, "check_order", taken_over()) is None  # no Retry, no failure
    with pytest.raises(KeyError):
        await worker._run({"job_try": 1}, "check_order", broken())  # arq records the failure


def test_the_worker_runs_every_job_the_domains_queue_under_the_same_names() -> None:
    queued = {
        orders_jobs.IMPORT_CONNECTION,
        orders_jobs.IMPORT_CONNECTIONS,
        orders_jobs.CHECK_ORDER,
        webhooks_jobs.HANDLE_WEBHOOK_EVENT,
        stock_jobs.STOCK_RUN,
        stock_jobs.STOCK_SYNC_RUN,
        stock_jobs.STOCK_APPLY_EVENTS,
    }
    assert set(worker.JOBS) == queued
    assert {job.name for job in worker.JOBS.values()} == queued
    assert set(worker.TICKS) == {"schedule_imports", "sweep", "stock_tick", "stock_nightly"}
    assert {tick.name for tick in worker.TICKS.values()} == {f"cron:{name}" for name in worker.TICKS}


async def test_the_heartbeat_tick_says_when_a_worker_last_ran_it(settings: Settings) -> None:
    assert worker.HEARTBEAT in build_worker(settings, handle_signals=False).cron_jobs
    redis = Redis.from_url(settings.redis_url)
    try:
        await redis.delete(heartbeat.HEARTBEAT_KEY)
        assert await heartbeat.last_heartbeat(redis) is None
        before = utcnow()
        await heartbeat.heartbeat({"redis": redis})
        at = await heartbeat.last_heartbeat(redis)
        assert at is not None
        assert before <= at <= utcnow()
        # Gone unless a worker keeps beating.
        assert 0 < await redis.ttl(heartbeat.HEARTBEAT_KEY) <= heartbeat.HEARTBEAT_TTL_SECONDS
    finally:
        await redis.delete(heartbeat.HEARTBEAT_KEY)
        await redis.aclose()


def _runs(function: str, result: str) -> float:
    labels = {"function": function, "result": result}
    return REGISTRY.get_sample_value("rakuten_connector_jobs_total", labels) or 0.0


async def test_every_run_is_counted_by_its_result_and_carries_its_job_in_the_logs(settings: Settings) -> None:
    seen: list[dict[str, object]] = []

    async def done() -> str:
        seen.append(structlog.contextvars.get_contextvars())
        return "done"

    async def taken_over() -> str:
        raise LeaseLost("another worker holds the order now")

    async def broken() -> str:
        raise KeyError("a bug")

    async def busy() -> str:
        raise OrderBusy("o")

    name = f"probe_{uuid.uuid4().hex[:8]}"
    ctx = {"job_try": 3, "job_id": "job-7", "runtime": Runtime.start(settings)}
    try:
        assert await worker._run(ctx, name, done()) == "done"
        assert await worker._run(ctx, name, taken_over()) is None
        with pytest.raises(KeyError):
            await worker._run(ctx, name, broken())
        with pytest.raises(Retry):
            await worker._run(ctx, name, busy())
    finally:
        await ctx["runtime"].close()  # type: ignore[attr-defined]
    counts = {result: _runs(name, result) for result in ("succeeded", "lease_lost", "failed", "retried")}
    assert counts == {"succeeded": 1, "lease_lost": 1, "failed": 1, "retried": 1}
    retries = REGISTRY.get_sample_value(
        "rakuten_connector_job_retries_total", {"function": name, "error": "OrderBusy"}
    )
    assert retries == 1
    assert seen == [{"job_id": "job-7", "function": name, "try": 3}]
    assert structlog.contextvars.get_contextvars() == {}  # nothing leaks out of the job


def _delays(exc: Exception, calls: int = 50) -> tuple[list[float], float]:
    """`_retry_delay` of `exc` for many jobs, and how long the calls took (the delays are counted from
    a moment within them)."""
    before = utcnow()
    delays = [worker._retry_delay({}, exc) for _ in range(calls)]
    return delays, (utcnow() - before).total_seconds()


async def test_jobs_stopped_by_rakutens_quota_try_again_spread_after_it_opens() -> None:
    opens_in = 600.0
    delays, took = _delays(RakutenQuotaExceeded("quota", utcnow() + timedelta(seconds=opens_in)))
    first, last = QUOTA_SPREAD_SECONDS
    assert all(opens_in + first - took <= delay <= opens_in + last for delay in delays)  # never before it opens
    assert len(set(delays)) > 1  # not all in the same second


async def test_jobs_cubyn_rate_limited_try_again_spread_after_its_retry_after() -> None:
    delays, took = _delays(CubynRateLimited("slow down", retry_after=30.0))
    first, last = QUOTA_SPREAD_SECONDS
    assert all(30.0 + first - took <= delay <= 30.0 + last for delay in delays)
    assert len(set(delays)) > 1


async def test_after_losing_redis_the_worker_starts_again_after_a_jittered_growing_wait(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    losses = 10
    started: list[object] = []
    waits: list[float] = []

    class LosesRedis:
        async def async_run(self) -> None:
            started.append(self)
            if len(started) <= losses:
                raise RedisConnectionError("Redis went away")

    async def closed(_: Any) -> None:
        return None

    async def waited(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(worker, "build_worker", lambda _: LosesRedis())
    monkeypatch.setattr(worker, "close_worker", closed)
    monkeypatch.setattr(worker.asyncio, "sleep", waited)
    await worker.serve(settings)
    assert len(started) == losses + 1  # the last start ran until it ended
    ceilings = [worker.REDIS_LOST_BACKOFF.ceiling(loss) for loss in range(1, losses + 1)]
    assert (ceilings[0], ceilings[-1]) == (1.0, 30.0)  # from a second, never longer than 30 s
    assert all(0.0 <= wait <= ceiling for wait, ceiling in zip(waits, ceilings, strict=True))
    assert len(set(waits)) == losses  # jittered: not the same doubling for every worker
