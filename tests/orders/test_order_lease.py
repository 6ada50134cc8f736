"""The order lease runner: one step at a time per order, the lease given back whatever the step did, no
step for an order of a disconnected connection, and Cubyn or Rakuten refusing the credentials marks the
connection."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn import CubynAuthError
from rakuten_connector.clients.rakuten import RakutenCredentialsError
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.connections.service import REFUSED_BY
from rakuten_connector.kit import leases
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.order_lease import OrderBusy, with_order
from rakuten_connector.runtime import Runtime
from tests.orders.helpers import add_live_connection, add_order


class Steps:
    """A step that records the orders it ran on, and can fail the way a step may."""

    def __init__(self, raises: Exception | None = None) -> None:
        self.ran: list[tuple[str, str | None]] = []
        self.raises = raises

    async def __call__(self, rt: Runtime, session: AsyncSession, connection: Connection, order: Order) -> None:
        async with rt.sessions() as other:  # what another worker sees while the step runs
            self.ran.append((order.id, (await other.get_one(Order, order.id)).lease_owner))
        order.last_error = "written by the step"
        if self.raises is not None:
            raise self.raises
        await session.commit()


async def _lease_owner(rt: Runtime, order_id: str) -> str | None:
    async with rt.sessions() as session:
        return (await session.get_one(Order, order_id)).lease_owner


async def test_a_step_runs_under_the_order_lease_which_is_given_back(rt: Runtime) -> None:
    order_id = await add_order(rt, await add_live_connection(rt), state=OrderState.IMPORTED.value)
    step = Steps()
    await with_order(rt, order_id, step)
    [(ran_on, owner_meanwhile)] = step.ran
    assert ran_on == order_id
    assert owner_meanwhile is not None
    assert owner_meanwhile.startswith(rt.owner)
    assert await _lease_owner(rt, order_id) is None
    async with rt.sessions() as session:
        assert (await session.get_one(Order, order_id)).last_error == "written by the step"


async def test_an_order_another_worker_holds_is_busy_and_its_step_waits(rt: Runtime) -> None:
    order_id = await add_order(rt, await add_live_connection(rt), state=OrderState.IMPORTED.value)
    step = Steps()
    async with leases.held(rt.engine, Order, order_id, "other-worker", timedelta(seconds=30)) as hold:
        assert hold is not None
        with pytest.raises(OrderBusy):
            await with_order(rt, order_id, step)
    assert step.ran == []
    await with_order(rt, order_id, step)  # given back: the next try runs it
    assert len(step.ran) == 1


async def test_the_lease_is_given_back_when_the_step_fails(rt: Runtime) -> None:
    order_id = await add_order(rt, await add_live_connection(rt), state=OrderState.IMPORTED.value)
    with pytest.raises(KeyError):
        await with_order(rt, order_id, Steps(raises=KeyError("a bug")))
    assert await _lease_owner(rt, order_id) is None


async def test_no_step_for_an_order_of_a_disconnected_connection(rt: Runtime) -> None:
    gone = await add_live_connection(rt, state=ConnectionState.DISCONNECTED.value)
    of_gone = await add_order(rt, gone, state=OrderState.IMPORTED.value)
    refused = await add_live_connection(rt, state=ConnectionState.CREDENTIALS_INVALID.value)
    of_refused = await add_order(rt, refused, state=OrderState.IMPORTED.value)
    step = Steps()
    await with_order(rt, of_gone, step)
    assert step.ran == []
    await with_order(rt, of_refused, step)  # still live: the step decides what it may call
    assert [order_id for order_id, _ in step.ran] == [of_refused]


@pytest.mark.parametrize(
    ("refusal", "upstream"),
    [(CubynAuthError("401"), "cubyn"), (RakutenCredentialsError("InvalidUserConnection"), "rakuten")],
)
async def test_an_upstream_refusing_the_credentials_marks_the_connection_and_drops_the_step_work(
    rt: Runtime, refusal: Exception, upstream: str
) -> None:
    connection_id = await add_live_connection(rt)
    order_id = await add_order(rt, connection_id, state=OrderState.IMPORTING.value)
    await with_order(rt, order_id, Steps(raises=refusal))  # not raised: the job has nothing left to retry
    async with rt.sessions() as session:
        connection = await session.get_one(Connection, connection_id)
        assert (connection.state, connection.state_reason) == (
            ConnectionState.CREDENTIALS_INVALID.value,
            REFUSED_BY[upstream],
        )
        assert (await session.get_one(Order, order_id)).last_error is None
    assert await _lease_owner(rt, order_id) is None


async def test_an_order_that_no_longer_exists_ends_its_job_at_once(rt: Runtime) -> None:
    # A job queued before its order was deleted (a disconnection's cleanup, a test's): not busy, no retries.
    steps = Steps()
    await with_order(rt, "no-such-order", steps)
    assert steps.ran == []
