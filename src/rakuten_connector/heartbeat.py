"""The workers' heartbeat: a Redis key a worker's tick writes and `rakuten-connector worker check` reads.

Every worker queues the heartbeat tick (one of them runs each), which writes the time into the key; the key
outlives a few missed ticks, then expires. Kept apart from `worker` so that the check, a container
healthcheck, does not import the whole worker.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from rakuten_connector.kit.clock import utcnow

HEARTBEAT_KEY = "rakuten-connector:worker-heartbeat"
HEARTBEAT_EVERY_SECONDS = 10
HEARTBEAT_TTL_SECONDS = 60


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Say that a worker runs its jobs (what a tick proves: it took a job from the queue and ran it)."""
    redis: Redis = ctx["redis"]
    await redis.set(HEARTBEAT_KEY, utcnow().isoformat(), ex=HEARTBEAT_TTL_SECONDS)


async def last_heartbeat(redis: Redis) -> datetime | None:
    """When a worker last ran the heartbeat tick; None when none did in the last HEARTBEAT_TTL_SECONDS."""
    value = await redis.get(HEARTBEAT_KEY)
    return None if value is None else datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)
