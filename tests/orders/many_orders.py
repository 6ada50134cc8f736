"""What the bulk retry and operator list tests set up and look at: connections of several merchants, many
orders written in one statement, and the retry jobs that reached Redis."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import deserialize_job
from redis.asyncio import Redis
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.jobs import CHECK_ORDER
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem, OrderState
from tests.factories import add_connection

RETRY_JOB_PREFIX = "order-retry:"


async def add_shop(sessions: async_sessionmaker[AsyncSession], merchant_id: str, **fields: Any) -> str:
    """A connection of `merchant_id` with a seller of its own; returns its id."""
    seller = f"shop-{uuid.uuid4().hex[:8]}"
    return await add_connection(sessions, merchant_id=merchant_id, seller_id=seller, seller_key=seller, **fields)


async def add_many_orders(
    sessions: async_sessionmaker[AsyncSession],
    connection_id: str,
    count: int,
    state: OrderState,
    *,
    first: int = 0,
    imported_at: datetime | None = None,
    apart: timedelta = timedelta(seconds=1),
    **fields: Any,
) -> list[str]:
    """`count` orders of the connection in `state` (purchases `first`, `first + 1`...), one item each,
    imported `apart` from each other from `imported_at` (one hour ago unless told), written in one
    statement; returns their ids, oldest first."""
    start = imported_at or utcnow() - timedelta(hours=1)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "connection_id": connection_id,
            "purchase_id": str(first + n),
            "state": state.value,
            "imported_at": start + n * apart,
            "attempts": 3,
            "last_error": "Cubyn did not answer.",
            **fields,
        }
        for n in range(count)
    ]
    async with sessions() as session:
        if rows:
            await session.execute(insert(Order), rows)
            await session.execute(
                insert(OrderItem),
                [
                    {"id": str(uuid.uuid4()), "order_id": row["id"], "item_id": f"i{row['purchase_id']}"}
                    | {"sku": "SKU-1", "rakuten_status": "TO_CONFIRM"}
                    for row in rows
                ],
            )
        await session.commit()
    return [row["id"] for row in rows]


async def retry_events(sessions: async_sessionmaker[AsyncSession], order_id: str) -> int:
    """How many retries the order's timeline says were asked."""
    async with sessions() as session:
        query = select(OrderEvent.id).where(OrderEvent.order_id == order_id, OrderEvent.kind == "retry_requested")
        return len(list(await session.scalars(query)))


async def orders_by_id(sessions: async_sessionmaker[AsyncSession], order_ids: list[str]) -> dict[str, Order]:
    async with sessions() as session:
        return {order.id: order for order in await session.scalars(select(Order).where(Order.id.in_(order_ids)))}


async def queued_retries(redis_url: str) -> dict[str, int]:
    """Per order, how many retry jobs are waiting in the queue (each checked to be a real `check_order` job
    of that order, waiting in arq's queue)."""
    redis = Redis.from_url(redis_url)
    try:
        waiting = {member.decode() for member in await redis.zrange(default_queue_name, 0, -1)}
        found: dict[str, int] = {}
        async for key in redis.scan_iter(match=f"{job_key_prefix}{RETRY_JOB_PREFIX}*", count=1000):
            job_id = key.decode().removeprefix(job_key_prefix)
            body = await redis.get(key)
            assert body is not None, job_id
            assert job_id in waiting, job_id
            job = deserialize_job(body)
            order_id = job_id.removeprefix(RETRY_JOB_PREFIX).split(":")[0]
            assert (job.function, job.args) == (CHECK_ORDER, (order_id,))
            found[order_id] = found.get(order_id, 0) + 1
        return found
    finally:
        await redis.aclose()
