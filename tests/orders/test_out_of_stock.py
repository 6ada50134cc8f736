"""Orders Cubyn lacks stock for, refused after the merchant's delay by the check the sweep queues: nothing
before the delay or without one, nothing when an item is accepted or no longer waits on Rakuten, nothing
for a connection that is not active; once due, the parcel is cancelled and each item refused once, also
when the worker died between the two; a parcel Cubyn's warehouse already took is left alone."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders import scheduler
from rakuten_connector.orders.check import check_order
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem, OrderState
from rakuten_connector.orders.order_lease import with_order
from rakuten_connector.orders.out_of_stock import delay_changed
from rakuten_connector.orders.progress import apply_parcel
from rakuten_connector.runtime import Runtime
from tests.conftest import CUBYN_URL, RAKUTEN_URL
from tests.moving_clock import MovingClock, clock
from tests.orders.helpers import add_live_connection, add_order
from tests.upstream_fakes import Upstreams

__all__ = ["clock"]

FIXTURES = Path(__file__).parent.parent / "clients/fixtures/rakuten"
CREATED = utcnow() - timedelta(days=1)
OUT_OF_STOCK = {
    "id": 100,
    "orderRef": "RAKUTEN-1",
    "status": "CREATED",
    "validations": {"address": {"status": "PASSED"}, "stock": {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}},
    "validatedAt": None,
    "updatedAt": CREATED.isoformat(),
}
CANCELLED = OUT_OF_STOCK | {"status": "CANCELLED", "updatedAt": (CREATED + timedelta(hours=1)).isoformat()}
REASON = "Cubyn had no stock for this order for 12 hours: the Cubyn parcel was cancelled and the sale refused on Rakuten."


class Crash(Exception):
    """The worker dies here."""


async def _order(
    rt: Runtime,
    failed_for: timedelta | None,
    *,
    hours: int | None = 12,
    items: list[dict[str, Any]] | None = None,
    **connection: Any,
) -> str:
    """An order out of stock at Cubyn (for `failed_for` so far) with two items waiting on Rakuten."""
    connection_id = await add_live_connection(rt, refuse_out_of_stock_after_hours=hours, **connection)
    specs = items or [{}, {}]
    return await add_order(
        rt,
        connection_id,
        state=OrderState.NEEDS_ATTENTION.value,
        reason="Cubyn does not have enough stock for this order.",
        imported_at=CREATED,
        parcel_id="100",
        tracking_id="CUB100",
        parcel_status="CREATED",
        parcel_updated_at=CREATED,
        stock_failed_since=None if failed_for is None else utcnow() - failed_for,
        items=[
            OrderItem(item_id=f"i{n}", sku="SKU-1", **({"rakuten_status": "REQUESTED"} | spec))
            for n, spec in enumerate(specs, start=1)
        ],
    )


def _cubyn(upstreams: Upstreams, read: dict[str, Any] = OUT_OF_STOCK) -> dict[str, Any]:
    routes: dict[str, Any] = {"read": upstreams.mock.get(f"{CUBYN_URL}/parcels/100").respond(200, json=read)}
    routes["cancel"] = upstreams.mock.put(f"{CUBYN_URL}/parcels/100/cancel").respond(200, json=CANCELLED)
    return routes


def _refusals(upstreams: Upstreams) -> Any:
    ok = (FIXTURES / "refusesale_ok.xml").read_bytes()
    return upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "refusesale"}).respond(200, content=ok)


def _refused_items(route: Any) -> list[str]:
    return sorted(call.request.url.params["itemid"] for call in route.calls if call.optional_response is not None)


async def _check(rt: Runtime, order_id: str) -> tuple[Order, list[tuple[str, str]]]:
    await with_order(rt, order_id, check_order)
    return await _stored(rt, order_id)


async def _stored(rt: Runtime, order_id: str) -> tuple[Order, list[tuple[str, str]]]:
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id, options=[selectinload(Order.items)])
        rows = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return order, [(event.kind, event.message) for event in rows]


def _close(a: datetime | None, b: datetime) -> bool:
    return a is not None and abs(a - b) < timedelta(seconds=1)


async def test_before_the_delay_nothing_is_refused_and_the_sweep_comes_back_when_it_is_reached(
    rt: Runtime, upstreams: Upstreams, clock: MovingClock
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    order_id = await _order(rt, timedelta(hours=11))
    order, _ = await _check(rt, order_id)
    assert (routes["cancel"].call_count, refusals.call_count) == (0, 0)
    assert order.state == OrderState.NEEDS_ATTENTION.value
    assert order.reason is not None
    assert "refused on Rakuten 12 hours after" in order.reason
    assert order.stock_failed_since is not None
    assert _close(order.next_check_at, order.stock_failed_since + timedelta(hours=12))
    assert await scheduler.sweep(rt) == 0  # not due yet

    clock.advance(timedelta(hours=1, seconds=1))
    assert await scheduler.sweep(rt) == 1  # no news from Cubyn: the sweep acts on its own
    order, events = await _check(rt, order_id)
    assert (routes["cancel"].call_count, _refused_items(refusals)) == (1, ["i1", "i2"])
    assert (order.state, order.reason, order.next_check_at) == (OrderState.CANCELLED.value, REASON, None)
    assert order.stock_failed_since is None
    assert all(item.refused_at is not None and item.rakuten_status == "REFUSED" for item in order.items)
    assert [kind for kind, _ in events][-5:] == [
        "out_of_stock",
        "parcel_status",
        "item_refused",
        "item_refused",
        "cancelled",
    ]
    assert events[-5][1] == (
        "Cubyn had no stock for this order for 12 hours: the Cubyn parcel CUB100 was cancelled; the sale is refused on Rakuten."
    )
    assert events[-1] == ("cancelled", REASON)


async def test_once_the_delay_is_reached_the_parcel_is_cancelled_and_each_item_refused_once(
    rt: Runtime, upstreams: Upstreams
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    order_id = await _order(rt, timedelta(hours=12, minutes=1))
    order, _ = await _check(rt, order_id)
    assert (order.state, order.reason) == (OrderState.CANCELLED.value, REASON)
    cancelled = Parcel.model_validate(CANCELLED)

    async def cancelled_event(rt: Runtime, session: AsyncSession, connection: Connection, order: Order) -> None:
        assert await apply_parcel(rt, session, connection, order, cancelled)  # not stale: applied again

    for _ in range(3):  # more sweeps, checks, and the cancelled parcel's event (replayed): nothing new
        assert await scheduler.sweep(rt) == 0
        await _check(rt, order_id)
        await with_order(rt, order_id, cancelled_event)
    order, events = await _stored(rt, order_id)
    assert (routes["cancel"].call_count, _refused_items(refusals)) == (1, ["i1", "i2"])
    assert (order.state, order.reason) == (OrderState.CANCELLED.value, REASON)
    assert [kind for kind, _ in events].count("cancelled") == 1


async def test_a_parcel_cubyn_is_checking_again_at_the_deadline_is_not_refused(
    rt: Runtime, upstreams: Upstreams
) -> None:
    # A restock arrived: Cubyn checks the stock again (PENDING) just as the delay runs out.
    rechecking = OUT_OF_STOCK | {"validations": {"stock": {"status": "PENDING"}}}
    routes, refusals = _cubyn(upstreams, read=rechecking), _refusals(upstreams)
    order_id = await _order(rt, timedelta(hours=13))
    order, _ = await _check(rt, order_id)
    assert (routes["cancel"].call_count, refusals.call_count) == (0, 0)
    assert order.state == OrderState.NEEDS_ATTENTION.value
    assert order.next_check_at is not None
    assert order.next_check_at > utcnow()


@pytest.mark.parametrize("hours", [None, 47])
async def test_without_a_delay_or_before_it_an_order_out_of_stock_is_never_refused(
    rt: Runtime, upstreams: Upstreams, hours: int | None
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    order_id = await _order(rt, timedelta(hours=46), hours=hours)
    order, _ = await _check(rt, order_id)
    assert (routes["cancel"].call_count, refusals.call_count) == (0, 0)
    assert order.state == OrderState.NEEDS_ATTENTION.value
    assert order.stock_failed_since is not None  # written down anyway: a delay chosen later counts from it
    if hours is None:
        assert order.next_check_at is None  # Cubyn's next event tells what to do
        assert order.reason is not None
        assert "refused on Rakuten" not in order.reason


@pytest.mark.parametrize(
    "second_item",
    [
        {"rakuten_status": "ACCEPTED", "accepted_at": CREATED},
        {"rakuten_status": "CANCELLED", "cancelled_at": CREATED},
        {"rakuten_status": "PENDING"},
        {"rakuten_status": "CLAIM"},
    ],
    ids=["accepted", "cancelled on Rakuten", "not waiting", "claim"],
)
async def test_an_order_with_an_item_that_no_longer_waits_for_acceptance_is_not_refused(
    rt: Runtime, upstreams: Upstreams, second_item: dict[str, Any]
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    order_id = await _order(rt, timedelta(hours=20), items=[{}, second_item])
    order, _ = await _check(rt, order_id)
    assert (routes["cancel"].call_count, refusals.call_count) == (0, 0)
    assert order.state == OrderState.NEEDS_ATTENTION.value
    assert all(item.refused_at is None for item in order.items)


@pytest.mark.parametrize(
    "connection",
    [
        {"paused": True},
        {"state": ConnectionState.CREDENTIALS_INVALID.value},
        {"state": ConnectionState.DISCONNECTED.value},
    ],
    ids=["paused", "credentials invalid", "disconnected"],
)
async def test_a_connection_that_is_not_active_refuses_nothing(
    rt: Runtime, upstreams: Upstreams, connection: dict[str, Any]
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    order_id = await _order(rt, timedelta(hours=13), **connection)
    order, _ = await _check(rt, order_id)
    assert (routes["cancel"].call_count, refusals.call_count) == (0, 0)
    assert order.state == OrderState.NEEDS_ATTENTION.value
    assert order.stock_failed_since is not None  # kept for when the connection is active again


async def test_a_parcel_the_warehouse_already_took_is_not_cancelled_and_nothing_is_refused(
    rt: Runtime, upstreams: Upstreams
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    routes["cancel"].respond(409, json={"message": "Parcel 100 is PICKED: it can no longer be cancelled"})
    order_id = await _order(rt, timedelta(hours=13))
    order, events = await _check(rt, order_id)
    assert (routes["cancel"].call_count, refusals.call_count) == (1, 0)
    assert order.state == OrderState.NEEDS_ATTENTION.value
    assert all(item.refused_at is None for item in order.items)
    assert events[-1] == (
        "out_of_stock_not_refused",
        "Cubyn had no stock for this order for 12 hours, but its warehouse has already taken the parcel: it "
        "could not be cancelled, and the sale was not refused on Rakuten.",
    )
    assert order.stock_failed_since is None
    assert order.next_check_at is not None
    assert order.next_check_at <= utcnow()  # the parcel is read again at the next sweep

    picked = OUT_OF_STOCK | {
        "status": "PICKED",
        "validations": {"address": {"status": "PASSED"}, "stock": {"status": "PASSED"}},
        "validatedAt": (CREATED + timedelta(hours=1)).isoformat(),
        "updatedAt": (CREATED + timedelta(hours=1)).isoformat(),
    }
    routes["read"].respond(200, json=picked)
    accepted = (FIXTURES / "acceptsale_ok.xml").read_bytes()
    upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "acceptsale"}).respond(200, content=accepted)
    order, _ = await _check(rt, order_id)
    assert order.state == OrderState.ACCEPTED.value  # the warehouse prepares it: accepted, never refused
    assert routes["cancel"].call_count == 1


async def test_a_worker_dying_between_the_cancellation_and_the_refusals_leaves_them_to_the_next_sweep(
    rt: Runtime, upstreams: Upstreams
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    ok = refusals.return_value

    def dies(request: httpx.Request) -> httpx.Response:
        raise Crash

    refusals.side_effect = dies
    order_id = await _order(rt, timedelta(hours=13))
    with pytest.raises(Crash):
        await with_order(rt, order_id, check_order)
    order, _ = await _stored(rt, order_id)
    assert routes["cancel"].call_count == 1
    assert (order.state, order.parcel_status) == (OrderState.NEEDS_ATTENTION.value, "CREATED")
    assert all(item.refused_at is None for item in order.items)
    assert order.next_check_at is not None
    assert order.next_check_at <= utcnow()

    refusals.side_effect = None
    refusals.return_value = ok
    routes["read"].respond(200, json=CANCELLED)  # what Cubyn says now
    assert await scheduler.sweep(rt) == 1
    order, events = await _check(rt, order_id)
    assert (order.state, order.reason) == (OrderState.CANCELLED.value, REASON)
    assert routes["cancel"].call_count == 1  # not again: the parcel is cancelled already
    assert _refused_items(refusals) == ["i1", "i2"]
    assert events[-1] == ("cancelled", REASON)


async def test_a_worker_dying_between_two_refusals_refuses_the_other_item_next_time(
    rt: Runtime, upstreams: Upstreams
) -> None:
    routes, refusals = _cubyn(upstreams), _refusals(upstreams)
    ok = refusals.return_value

    def second_dies(request: httpx.Request) -> httpx.Response:
        if request.url.params["itemid"] == "i2":
            raise Crash
        return ok

    refusals.side_effect = second_dies
    order_id = await _order(rt, timedelta(hours=13))
    with pytest.raises(Crash):
        await with_order(rt, order_id, check_order)
    routes["read"].respond(200, json=CANCELLED)
    refusals.side_effect = None
    refusals.return_value = ok
    order, _ = await _check(rt, order_id)
    assert (order.state, order.reason) == (OrderState.CANCELLED.value, REASON)
    assert [call.request.url.params["itemid"] for call in refusals.calls] == ["i1", "i2", "i2"]
    assert routes["cancel"].call_count == 1


async def test_a_new_delay_has_the_orders_out_of_stock_looked_at_again(rt: Runtime) -> None:
    failing = await _order(rt, timedelta(hours=30), hours=None)
    async with rt.sessions() as session:
        order = await session.get_one(Order, failing)
        fine = await add_order(rt, order.connection_id, purchase_id="2", state=OrderState.IMPORTED.value)
        before = utcnow()
        await delay_changed(session, order.connection_id)
        await session.commit()
    async with rt.sessions() as session:
        assert (await session.get_one(Order, fine)).next_check_at is None
        woken = (await session.get_one(Order, failing)).next_check_at
    assert woken is not None
    assert woken >= before
