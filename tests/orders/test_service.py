"""Order service: waking the waiting orders of a connection, transitions said in the timeline, retries one
at a time and in bulk."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.orm import selectinload

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.service import (
    counts_by_state,
    request_retries,
    request_retry,
    retry_candidates,
    timeline,
    transition,
    wake_waiting_orders,
)
from rakuten_connector.runtime import Runtime
from tests.orders.helpers import add_live_connection, add_order


async def test_waking_a_connection_makes_its_waiting_orders_due_and_leaves_the_rest(rt: Runtime) -> None:
    connection_id, other_id = await add_live_connection(rt), await add_live_connection(rt)
    later = utcnow() + timedelta(hours=1)
    waiting = await add_order(rt, connection_id, state=OrderState.IMPORTED.value, next_check_at=later)
    settled = await add_order(rt, connection_id, purchase_id="2", state=OrderState.CANCELLED.value)
    elsewhere = await add_order(rt, other_id, state=OrderState.IMPORTED.value, next_check_at=later)
    before = utcnow()
    async with rt.sessions() as session:
        await wake_waiting_orders(session, connection_id)
        await session.commit()
    async with rt.sessions() as session:
        woken = (await session.get_one(Order, waiting)).next_check_at
        assert woken is not None
        assert before <= woken <= utcnow()
        assert (await session.get_one(Order, settled)).next_check_at is None  # nothing pending: stays so
        assert (await session.get_one(Order, elsewhere)).next_check_at == later


async def test_a_transition_is_always_said_in_the_timeline(rt: Runtime) -> None:
    order_id = await add_order(rt, await add_live_connection(rt), state=OrderState.IMPORTED.value)
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id)
        transition(session, order, OrderState.NEEDS_ATTENTION, "needs_attention", "Look at it.", reason="Why.")
        transition(session, order, OrderState.NEEDS_ATTENTION, "needs_attention", "Still.", reason="Why.")
        await session.commit()
        assert (order.state, order.reason) == (OrderState.NEEDS_ATTENTION.value, "Why.")
        assert [event.message for event in await timeline(session, order)] == ["Look at it.", "Still."]


async def test_a_retry_creates_the_parcel_again_or_checks_the_order_again(rt: Runtime) -> None:
    connection_id = await add_live_connection(rt)
    without_parcel = await add_order(rt, connection_id, state=OrderState.FAILED.value, attempts=12)
    with_parcel = await add_order(
        rt, connection_id, purchase_id="2", state=OrderState.NEEDS_ATTENTION.value, parcel_id="100"
    )
    shipped = await add_order(rt, connection_id, purchase_id="3", state=OrderState.SHIPPED.value)
    async with rt.sessions() as session:
        for order_id in (without_parcel, with_parcel):
            request_retry(session, await session.get_one(Order, order_id))
        with pytest.raises(ApiError) as refused:
            request_retry(session, await session.get_one(Order, shipped))
        await session.commit()
    assert (refused.value.status_code, refused.value.code) == (409, "order_not_retryable")
    async with rt.sessions() as session:
        first = await session.get_one(Order, without_parcel, options=[selectinload(Order.items)])
        second = await session.get_one(Order, with_parcel)
        assert (first.state, first.attempts, first.next_check_at is not None) == ("importing", 0, True)
        assert (second.state, second.next_check_at is not None) == ("needs_attention", True)
        assert [event.kind for event in await timeline(session, second)] == ["retry_requested"]


async def test_counts_by_state_name_every_state_of_every_connection_asked(rt: Runtime) -> None:
    busy, empty = await add_live_connection(rt), await add_live_connection(rt)
    await add_order(rt, busy, state=OrderState.SHIPPED.value)
    await add_order(rt, busy, purchase_id="2", state=OrderState.SHIPPED.value)
    await add_order(rt, busy, purchase_id="3", state=OrderState.FAILED.value)
    async with rt.sessions() as session:
        counts = await counts_by_state(session, [busy, empty])
        assert await counts_by_state(session, []) == {}
    assert (counts[busy]["shipped"], counts[busy]["failed"], counts[busy]["imported"]) == (2, 1, 0)
    assert set(counts[empty].values()) == {0}
    assert set(counts[empty]) == {state.value for state in OrderState}


async def test_two_bulk_retries_at_once_ask_each_orders_retry_once(rt: Runtime) -> None:
    connection_id = await add_live_connection(rt)
    order_ids = [
        await add_order(rt, connection_id, purchase_id=str(n), state=OrderState.FAILED.value) for n in range(6)
    ]
    async with rt.sessions() as session:
        [candidates] = await retry_candidates(session, connection_id, OrderState.FAILED)
    assert sorted(candidates) == sorted(order_ids)

    async def bulk_retry() -> list[str]:
        # Both read the same candidates before either asked anything.
        async with rt.sessions() as session:
            retried = [order.id for order in await request_retries(session, candidates, OrderState.FAILED)]
            await session.commit()
            return retried

    first, second = await asyncio.gather(bulk_retry(), bulk_retry())
    assert sorted(first + second) == sorted(order_ids)
    async with rt.sessions() as session:
        for order_id in order_ids:
            order = await session.get_one(Order, order_id)
            assert [event.kind for event in await timeline(session, order)] == ["retry_requested"]
        assert await retry_candidates(session, connection_id, OrderState.FAILED) == []
        assert await request_retries(session, candidates, OrderState.FAILED) == []


async def test_a_bulk_retry_leaves_out_the_orders_that_changed_since_they_were_read(rt: Runtime) -> None:
    connection_id = await add_live_connection(rt)
    taken, settled, retried = [
        await add_order(rt, connection_id, purchase_id=str(n), state=OrderState.FAILED.value) for n in range(3)
    ]
    async with rt.sessions() as session:
        [candidates] = await retry_candidates(session, connection_id, OrderState.FAILED)
        await session.commit()
    async with rt.sessions() as session:
        held = await session.get_one(Order, taken)
        held.lease_owner, held.lease_until = "worker-1", utcnow() + timedelta(minutes=1)
        (await session.get_one(Order, settled)).state = OrderState.CANCELLED.value
        await session.commit()
    async with rt.sessions() as session:
        assert [order.id for order in await request_retries(session, candidates, OrderState.FAILED)] == [retried]
        await session.commit()


async def test_an_order_that_fails_is_counted_once_committed(rt: Runtime) -> None:
    order_id = await add_order(rt, await add_live_connection(rt), state=OrderState.IMPORTING.value)

    def failed() -> float:
        return REGISTRY.get_sample_value("rakuten_connector_orders_failed_total") or 0.0

    before = failed()
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id)
        transition(session, order, OrderState.FAILED, "failed", "Cubyn refused it.", reason="Cubyn refused it.")
        await session.rollback()
    assert failed() == before  # rolled back: it did not fail
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id)
        transition(session, order, OrderState.FAILED, "failed", "Cubyn refused it.", reason="Cubyn refused it.")
        await session.commit()
    assert failed() == before + 1
