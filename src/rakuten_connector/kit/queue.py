"""The job queue (arq on Redis). Redis only carries work: the database stays the source of truth.

A job is a `Job` (its function's name, arguments, one id from `job_id`, when it may start), built by the
typed helpers of each domain's `jobs.py`. Work asked for inside a transaction goes through `AfterCommit`,
which sends it only once the transaction committed: a worker never starts a job before the rows it is about
exist. Sending never fails a change that already committed: when Redis does not answer, the job is dropped
with a warning and a periodic sweep rebuilds it from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from arq import ArqRedis, create_pool
from arq.connections import RedisSettings
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms, to_unix_ms
from redis.asyncio.retry import Retry
from redis.backoff import FullJitterBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)


def job_id(
    prefix: str, key: str, due: datetime, now: datetime | None = None, period: timedelta | None = None
) -> str:
    """The one arq job id of work `key` of kind `prefix` due at `due`: enqueueing the same work twice while
    its job is queued or running collapses into one job.

    arq refuses an id while a job with it is queued, running or kept, and a job killed with SIGKILL keeps
    its id for about `job_timeout`. With `now` and `period`, the id is renewed every `period` while the work
    stays overdue, so a periodic sweep can queue it again well before that (the database lease still lets
    only one of them run).
    """
    generation = max(0, int((now - due) / period)) if now is not None and period else 0
    return f"{prefix}:{key}:{due.timestamp():.3f}:{generation}"


@dataclass(frozen=True)
class Job:
    function: str
    args: tuple[Any, ...]
    id: str
    defer_until: datetime | None = None  # None: as soon as a worker is free


def redis_settings(redis_url: str, *, retries: int = 8) -> RedisSettings:
    """Connections that ride out a Redis restart: commands retry with exponential backoff and full jitter
    (processes that lost Redis together do not come back in step)."""
    settings = RedisSettings.from_dsn(redis_url)
    settings.conn_timeout = 5
    settings.conn_retries = retries
    settings.conn_retry_delay = 1
    settings.retry_on_timeout = True
    settings.retry_on_error = [RedisConnectionError, RedisTimeoutError, ConnectionResetError]
    settings.retry = Retry(FullJitterBackoff(cap=5.0, base=0.1), retries)
    return settings


# Jobs written per round trip to Redis.
SEND_BATCH = 200
# KEYS: the queue, then each job's key and result key; ARGV: each job's id, score, expiry (ms) and body.
_ENQUEUE_SCRIPT = """
local queued = 0
for i = 0, (#KEYS - 1) / 2 - 1 do
  local job_key, result_key = KEYS[2 + 2 * i], KEYS[3 + 2 * i]
  if redis.call('EXISTS', job_key, result_key) == 0 then
    redis.call('PSETEX', job_key, ARGV[3 + 4 * i], ARGV[4 + 4 * i])
    redis.call('ZADD', KEYS[1], ARGV[2 + 4 * i], ARGV[1 + 4 * i])
    queued = queued + 1
  end
end
return queued
"""


class JobQueue:
    def __init__(self, redis_url: str) -> None:
        self._settings = redis_settings(redis_url, retries=2)
        self._pool: ArqRedis | None = None
        self._enqueue_script: AsyncScript | None = None

    async def _get_pool(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(self._settings)
        return self._pool

    async def send(self, jobs: Iterable[Job]) -> int:
        """Queue `jobs`, SEND_BATCH per round trip; returns how many were queued (the others were already
        queued under their id, or Redis is away).

        Each job is written as arq's `enqueue_job` writes it (its serialized body under `arq:job:<id>`, its
        id in the queue scored by its start time), by one script per batch: Redis runs it at once, so a job
        whose id is queued, running or kept is skipped exactly as arq skips it, without a round trip each."""
        pending = list(jobs)
        queued = 0
        for start in range(0, len(pending), SEND_BATCH):
            batch = pending[start : start + SEND_BATCH]
            try:
                queued += await self._send_batch(await self._get_pool(), batch)
            except (RedisError, OSError) as exc:
                for job in batch:
                    log.warning("enqueue_failed", function=job.function, job_id=job.id, error=type(exc).__name__)
        return queued

    async def _send_batch(self, pool: ArqRedis, jobs: list[Job]) -> int:
        if self._enqueue_script is None:
            self._enqueue_script = pool.register_script(_ENQUEUE_SCRIPT)
        now_ms = timestamp_ms()
        keys: list[str] = [pool.default_queue_name]
        argv: list[str | int | bytes] = []
        for job in jobs:
            score = to_unix_ms(job.defer_until) if job.defer_until is not None else now_ms
            body = serialize_job(job.function, job.args, {}, None, now_ms, serializer=pool.job_serializer)
            keys += [job_key_prefix + job.id, result_key_prefix + job.id]
            argv += [job.id, score, score - now_ms + pool.expires_extra_ms, body]
        return int(await self._enqueue_script(keys=keys, args=argv))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


class AfterCommit:
    """The jobs a transaction asks for, sent once it committed (never before: the job's worker must find
    the rows it is about). A request or a job gets one, adds jobs while it works, and ends with
    `commit(session)`; if the transaction fails, nothing is sent."""

    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue
        self._jobs: list[Job] = []

    def add(self, *jobs: Job) -> None:
        self._jobs.extend(jobs)

    async def commit(self, session: AsyncSession) -> int:
        """Commit `session`, then send the jobs; returns how many were queued."""
        await session.commit()
        jobs, self._jobs = self._jobs, []
        return await self._queue.send(jobs)
