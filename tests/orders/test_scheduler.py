"""The scheduler: due connections are claimed and queued once, in batch jobs; a claim whose job was lost
runs out and the connection is queued again; claims are freed when Redis refuses the jobs. The sweep
queues the overdue checks of orders with a step left and the parcel events left pending, and a job
id is renewed while its work stays overdue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

import pytest
from arq import ArqRedis, create_pool
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.queue import Job, redis_settings
from rakuten_connector.orders import scheduler
from rakuten_connector.orders.models import OrderState
from rakuten_connector.runtime import Runtime
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.webhooks.schemas import PARCEL_UPDATED, STOCK_UPDATED
from tests.orders.helpers import add_order


@pytest.fixture
async def arq(rt: Runtime) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(redis_settings(rt.settings.redis_url))
    await pool.flushdb()  # this run's own Redis db: jobs queued by earlier tests are gone
    yield pool
    await pool.aclose()


async def _connections(sessions: async_sessionmaker[AsyncSession], count: int, **fields: Any) -> list[str]:
    values: dict[str, Any] = {
        "merchant_id": "m",
        "name": "n",
        "state": ConnectionState.ACTIVE.value,
        "next_import_at": utcnow() - timedelta(seconds=1),
    }
    async with sessions() as session:
        rows = [
            Connection(
                **(values | fields | {"seller_id": f"s{n}-{id(fields)}", "seller_key": f"s{n}-{id(fields)}"})
            )
            for n in range(count)
        ]
        session.add_all(rows)
        await session.commit()
        return [row.id for row in rows]


async def _queued(arq: ArqRedis) -> list[list[str]]:
    """The connection batches queued; nothing else is."""
    jobs = await arq.queued_jobs()
    assert {job.function for job in jobs} <= {"import_connections"}
    return [list(job.args[0]) for job in jobs]


async def test_due_connections_are_queued_once_in_batches(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> None:
    due = await _connections(sessions, scheduler.IMPORT_BATCH + 3)
    await _connections(sessions, 1, next_import_at=utcnow() + timedelta(minutes=1))
    await _connections(sessions, 1, paused=True)
    await _connections(sessions, 1, state=ConnectionState.CREDENTIALS_INVALID.value)
    await _connections(sessions, 1, state=ConnectionState.DISCONNECTED.value)

    assert await scheduler.schedule_imports(rt) == len(due)
    batches = await _queued(arq)
    assert sorted(len(batch) for batch in batches) == [3, scheduler.IMPORT_BATCH]
    assert sorted(c for batch in batches for c in batch) == sorted(due)
    # Another tick (or another worker's) finds them claimed: nothing is queued twice.
    assert await scheduler.schedule_imports(rt) == 0
    assert len(await _queued(arq)) == 2


async def test_a_burst_of_due_connections_is_queued_by_one_tick(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> None:
    """Thousands of shops due at once (start-up, after an outage) are queued at once: none waits for a
    later tick, which a full queue of import jobs would hold back."""
    due = await _connections(sessions, 2500)
    assert await scheduler.schedule_imports(rt) == len(due)
    batches = await _queued(arq)
    assert len(batches) == -(-len(due) // scheduler.IMPORT_BATCH)
    assert sorted(c for batch in batches for c in batch) == sorted(due)


async def test_a_claim_that_ran_out_is_queued_again(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> None:
    [connection_id] = await _connections(sessions, 1)
    assert await scheduler.schedule_imports(rt) == 1
    await arq.flushdb()  # the job is lost with Redis
    assert await scheduler.schedule_imports(rt) == 0  # claimed: not before the claim runs out
    async with sessions() as session:
        await session.execute(update(Connection).values(import_queued_until=utcnow() - timedelta(seconds=1)))
        await session.commit()
    assert await scheduler.schedule_imports(rt) == 1
    assert await _queued(arq) == [[connection_id]]


async def test_claims_are_freed_when_redis_does_not_take_the_jobs(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], arq: ArqRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _connections(sessions, 2)

    async def redis_away(jobs: Iterable[Job], concurrency: int = 32) -> int:
        return 0

    monkeypatch.setattr(rt.queue, "send", redis_away)
    assert await scheduler.schedule_imports(rt) == 0
    async with sessions() as session:
        assert list(await session.scalars(select(Connection.import_queued_until))) == [None, None]
    monkeypatch.undo()
    assert await scheduler.schedule_imports(rt) == 2  # the next tick queues them at once
    assert len(await _queued(arq)) == 1


async def _swept(rt: Runtime, arq: ArqRedis) -> set[tuple[str, str]]:
    await scheduler.sweep(rt)
    return {(job.function, job.args[0]) for job in await arq.queued_jobs()}


async def test_the_sweep_queues_the_overdue_checks_of_orders_with_a_step_left(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> None:
    [live] = await _connections(sessions, 1)
    [gone] = await _connections(sessions, 1, state=ConnectionState.DISCONNECTED.value)
    past, later = utcnow() - timedelta(seconds=1), utcnow() + timedelta(minutes=1)
    due = {
        await add_order(rt, live, purchase_id=state.value, state=state.value, next_check_at=past)
        for state in OrderState
        if state.value in scheduler.SWEPT_STATES
    }
    await add_order(rt, live, purchase_id="later", state=OrderState.IMPORTED.value, next_check_at=later)
    await add_order(rt, live, purchase_id="nothing", state=OrderState.IMPORTED.value, next_check_at=None)
    await add_order(rt, live, purchase_id="done", state=OrderState.CANCELLED.value, next_check_at=past)
    await add_order(rt, live, purchase_id="failed", state=OrderState.FAILED.value, next_check_at=past)
    await add_order(rt, gone, purchase_id="gone", state=OrderState.IMPORTED.value, next_check_at=past)
    assert len(due) == 5
    assert await _swept(rt, arq) == {("check_order", order_id) for order_id in due}
    assert await scheduler.sweep(rt) == 0  # queued already: the same job ids


async def test_the_sweep_queues_parcel_events_left_pending_after_a_grace(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], arq: ArqRedis
) -> None:
    [connection_id] = await _connections(sessions, 1)
    old = utcnow() - scheduler.EVENT_GRACE - timedelta(seconds=1)
    events = {
        "left": WebhookEvent(event_type=PARCEL_UPDATED, received_at=old),
        "just_in": WebhookEvent(event_type=PARCEL_UPDATED, received_at=utcnow()),  # its job may still run
        "done": WebhookEvent(event_type=PARCEL_UPDATED, received_at=old, status=EventStatus.PROCESSED.value),
        "stock": WebhookEvent(event_type=STOCK_UPDATED, received_at=old),  # applied by the stock ticks
    }
    async with sessions() as session:
        for webhook_id, event in events.items():
            event.connection_id, event.webhook_id, event.payload = connection_id, webhook_id, "{}"
            session.add(event)
        await session.commit()
    assert await _swept(rt, arq) == {("handle_webhook_event", events["left"].id)}
