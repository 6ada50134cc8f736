"""The bulk retry: every order of a connection in one state retried as the single retry retries one, for the
route (`POST /v1/connections/{id}/orders/retries`) and the operators' CLI (`rakuten-connector orders retry`).

It owns its transactions, one per chunk of `service.RETRY_CHUNK` orders: each chunk is claimed, written and
committed, then its jobs are sent, so a long retry holds no lock on the orders it has not reached yet and a
failure midway leaves the chunks before it asked for and queued.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.queue import AfterCommit
from rakuten_connector.orders import service
from rakuten_connector.orders.jobs import retry_order_job
from rakuten_connector.orders.schemas import RetryableState


async def retry_every_order(
    session: AsyncSession, jobs: AfterCommit, connection_id: str, state: RetryableState
) -> int:
    """Retry every order of the connection in `state` that no check waits for and no worker holds; commits
    `session` after each chunk and returns how many retries were queued."""
    queued = 0
    for order_ids in await service.retry_candidates(session, connection_id, state):
        orders = await service.request_retries(session, order_ids, state)
        now = utcnow()
        jobs.add(*(retry_order_job(order.id, now) for order in orders))
        queued += await jobs.commit(session)
    return queued
