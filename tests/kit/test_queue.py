"""The job queue: one id per piece of work, jobs sent only after their transaction committed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from arq import create_pool
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from redis.asyncio import Redis

from rakuten_connector.kit.queue import SEND_BATCH, AfterCommit, Job, JobQueue, job_id, redis_settings
from rakuten_connector.settings import Settings

DUE = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
# The sessions fixture empties this run's Redis db afterwards: the jobs queued here never reach a later worker.
pytestmark = pytest.mark.usefixtures("sessions")


def test_one_id_per_piece_of_work_renewed_only_while_it_stays_overdue() -> None:
    assert job_id("order", "o-1", DUE) == job_id("order", "o-1", DUE, DUE, timedelta(minutes=2))
    assert job_id("order", "o-1", DUE, DUE + timedelta(seconds=119), timedelta(minutes=2)).endswith(":0")
    assert job_id("order", "o-1", DUE, DUE + timedelta(seconds=121), timedelta(minutes=2)).endswith(":1")
    assert job_id("order", "o-1", DUE, DUE - timedelta(hours=1), timedelta(minutes=2)).endswith(":0")
    assert job_id("order", "o-1", DUE) != job_id("order", "o-2", DUE) != job_id("stock", "o-1", DUE)


class _Session:
    def __init__(self, fails: bool) -> None:
        self.fails, self.committed = fails, False

    async def commit(self) -> None:
        if self.fails:
            raise RuntimeError("the transaction did not commit")
        self.committed = True


@pytest.fixture
async def queue(settings: Settings) -> JobQueue:
    return JobQueue(settings.redis_url)


async def _exists(settings: Settings, job: Job) -> bool:
    redis = Redis.from_url(settings.redis_url)
    try:
        return bool(await redis.exists(f"arq:job:{job.id}"))
    finally:
        await redis.aclose()


async def test_jobs_are_sent_only_once_their_transaction_committed(settings: Settings, queue: JobQueue) -> None:
    try:
        failed, done = (
            Job("check_order", ("o-failed",), "test:failed"),
            Job("check_order", ("o-done",), "test:done"),
        )
        jobs = AfterCommit(queue)
        jobs.add(failed)
        with pytest.raises(RuntimeError):
            await jobs.commit(_Session(fails=True))
        assert not await _exists(settings, failed)
        jobs = AfterCommit(queue)
        jobs.add(done)
        session = _Session(fails=False)
        assert await jobs.commit(session) == 1
        assert session.committed
        assert await _exists(settings, done)
    finally:
        await queue.close()


async def test_the_same_work_asked_twice_is_one_job_and_a_later_one_waits(
    settings: Settings, queue: JobQueue
) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    twice = Job("stock_run", ("c-1",), job_id("test-stock", "c-1", later), later)
    try:
        assert await queue.send([twice, twice]) == 1
        redis = Redis.from_url(settings.redis_url)
        try:
            score = await redis.zscore("arq:queue", twice.id)
        finally:
            await redis.aclose()
        assert score is not None
        assert score >= later.timestamp() * 1000 - 1
    finally:
        await queue.close()


async def test_many_jobs_are_queued_in_batches_as_arq_reads_them_and_kept_ids_are_skipped(
    settings: Settings, queue: JobQueue
) -> None:
    jobs = [Job("check_order", (f"o-{n}", n), f"test-many:{n}") for n in range(SEND_BATCH * 2 + 50)]
    arq = await create_pool(redis_settings(settings.redis_url))
    try:
        await arq.set(f"{result_key_prefix}test-many:7", b"kept result")  # a job that ran and kept its result
        assert await queue.send(jobs) == len(jobs) - 1
        assert await queue.send(jobs[:10]) == 0  # queued already: nothing twice
        queued = {job.job_id: job for job in await arq.queued_jobs()}
        assert set(queued) == {job.id for job in jobs} - {"test-many:7"}
        assert (queued["test-many:3"].function, queued["test-many:3"].args) == ("check_order", ("o-3", 3))
        ttl = await arq.pttl(f"{job_key_prefix}test-many:3")
        assert 0 < ttl <= expires_extra_ms  # kept as long as arq keeps what it queues itself
    finally:
        await arq.aclose()
        await queue.close()


async def test_redis_away_queues_nothing() -> None:
    away = JobQueue("redis://127.0.0.1:1/0")
    try:
        assert await away.send([Job("check_order", ("o-1",), "test:away")]) == 0
    finally:
        await away.close()


def test_redis_commands_retry_a_lost_connection_with_jittered_growing_waits() -> None:
    settings = redis_settings("redis://127.0.0.1:6379/0", retries=5)
    retry = settings.retry
    assert retry is not None
    waits = [retry._backoff.compute(failures) for failures in range(1, 9) for _ in range(20)]
    assert all(0 <= wait <= 5.0 for wait in waits)  # capped
    assert len(set(waits)) > 100  # spread, not in step
    assert max(retry._backoff.compute(8) for _ in range(50)) > 1.0  # and growing
