"""The job queue: one id per piece of work, jobs sent only after their transaction committed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from rakuten_connector.kit.queue import AfterCommit, Job, JobQueue, job_id
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
