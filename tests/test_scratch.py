"""Scratch Redis dbs: parallel runs never share one, even when a run empties its own db."""

from __future__ import annotations

from redis.asyncio import Redis

from tests.conftest import REDIS_BASE_URL
from tests.scratch import scratch_redis_db


async def test_a_run_that_flushes_its_db_keeps_it_from_other_runs() -> None:
    async with scratch_redis_db(REDIS_BASE_URL) as first:
        client = Redis.from_url(first)
        try:
            await client.flushdb()  # what a test does to lose its jobs, as Redis would
        finally:
            await client.aclose()
        async with scratch_redis_db(REDIS_BASE_URL) as second:
            assert second != first
    async with scratch_redis_db(REDIS_BASE_URL) as again:
        assert again  # released at the end of each block


async def test_a_db_is_emptied_before_and_after_its_run() -> None:
    async with scratch_redis_db(REDIS_BASE_URL) as url:
        client = Redis.from_url(url)
        try:
            assert await client.dbsize() == 0
            await client.set("left-behind", "1")
        finally:
            await client.aclose()
    client = Redis.from_url(url)
    try:
        assert await client.get("left-behind") is None
    finally:
        await client.aclose()
