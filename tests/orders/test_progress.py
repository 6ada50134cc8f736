"""Parcel states applied to an order: while its connection is paused the Rakuten actions wait, and an
older event handled later cannot settle the order or push back the check that performs them; a claim
open on Rakuten stays in sight whatever the parcel does; an action Rakuten refuses records the item's
status there; the tracking goes in one file, then item by item, each success written down."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.clients.rakuten_errors import RakutenTransientError
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem, OrderState
from rakuten_connector.orders.progress import apply_parcel
from rakuten_connector.runtime import Runtime
from tests.conftest import RAKUTEN_URL
from tests.orders.helpers import add_live_connection, add_order
from tests.upstream_fakes import Upstreams

CREATED = utcnow() - timedelta(days=2)  # the parcel then moves on over the next day


async def _order(rt: Runtime, *, paused: bool, item: dict[str, Any], **fields: Any) -> str:
    async with rt.sessions() as session:
        connection = Connection(
            merchant_id="m",
            name="n",
            seller_id="s",
            seller_key="s",
            state=ConnectionState.ACTIVE.value,
            paused=paused,
        )
        session.add(connection)
        await session.flush()
        values: dict[str, Any] = {
            "state": OrderState.IMPORTED.value,
            "parcel_status": "CREATED",
            "parcel_updated_at": CREATED,
        }
        order = Order(
            connection_id=connection.id,
            purchase_id="p1",
            imported_at=CREATED,
            parcel_id="100",
            items=[OrderItem(item_id="i1", sku="SKU-1", **item)],
            **(values | fields),
        )
        session.add(order)
        await session.commit()
        return order.id


async def test_an_older_event_after_a_deferred_newer_one_is_stale(rt: Runtime) -> None:
    order_id = await _order(rt, paused=True, item={"rakuten_status": "REQUESTED"})
    checked = Parcel(id=100, status="CREATED", updated_at=CREATED + timedelta(seconds=30))
    validated = Parcel(
        id=100,
        status="CREATED",
        validated_at=CREATED + timedelta(seconds=31),
        updated_at=CREATED + timedelta(seconds=31),
    )
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id, options=[selectinload(Order.items)])
        connection = await session.get_one(Connection, order.connection_id)
        assert await apply_parcel(rt, session, connection, order, validated)  # paused: the acceptance waits
        assert order.state == OrderState.IMPORTED.value
        assert order.last_error is not None
        # Resumed: the waiting order is due at once (as PATCH does)...
        connection.paused = False
        now = utcnow()
        order.next_check_at = now
        await session.commit()
        # ...then the older event arrives late (a retried webhook): stale, nothing settled or postponed.
        assert not await apply_parcel(rt, session, connection, order, checked)
        assert order.next_check_at == now
        assert order.parcel_updated_at == validated.updated_at


async def test_a_claim_open_on_rakuten_stays_in_sight_when_the_parcel_moves_on(rt: Runtime) -> None:
    done = {"accepted_at": CREATED, "tracking_pushed_at": CREATED}
    order_id = await _order(
        rt,
        paused=False,
        item={"rakuten_status": "CLAIM", **done},
        state=OrderState.NEEDS_ATTENTION.value,
        reason="A claim is open on Rakuten for item i1 (CLAIM). Answer it in the Rakuten back office.",
        parcel_status="SHIPPED",
    )
    shipped = CREATED + timedelta(minutes=1)
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id, options=[selectinload(Order.items)])
        connection = await session.get_one(Connection, order.connection_id)
        in_transit = Parcel(id=100, status="CARRIER_IN_TRANSIT", shipped_at=shipped, updated_at=shipped)
        assert await apply_parcel(rt, session, connection, order, in_transit)
        assert order.state == OrderState.NEEDS_ATTENTION.value  # not back to shipped behind the merchant's back
        assert order.reason is not None
        assert "claim is open" in order.reason
        assert order.parcel_status == "CARRIER_IN_TRANSIT"

        order.items[0].rakuten_status = "SHIPPED"  # the claim is closed on Rakuten
        delivered = Parcel(
            id=100, status="CARRIER_DELIVERED", shipped_at=shipped, updated_at=shipped + timedelta(days=1)
        )
        assert await apply_parcel(rt, session, connection, order, delivered)
        assert order.state == OrderState.SHIPPED.value


FIXTURES = Path(__file__).parent.parent / "clients/fixtures/rakuten"
ERROR_PARAMETER = (FIXTURES / "error_parameter.xml").read_bytes()
VALIDATED = Parcel(id=100, status="CREATED", validated_at=CREATED, updated_at=CREATED + timedelta(seconds=1))


def _item_info(status: str, item_id: str, shipped: bool = False) -> httpx.Response:
    """getiteminfos' answer about `item_id` (Rakuten names the item it answers for)."""
    content = (FIXTURES / "getiteminfos.xml").read_bytes().replace(b"ACCEPTED", status.encode())
    if shipped:
        content = content.replace(b"<shipped>0</shipped>", b"<shipped>1</shipped>")
    return httpx.Response(200, content=content.replace(b"260306083", item_id.encode()))


async def _live_order(rt: Runtime, *item_ids: str, **item: Any) -> str:
    """An imported order of an active connection with its secrets, whose parcel Cubyn has just created."""
    connection_id = await add_live_connection(rt)
    fields = {"rakuten_status": "REQUESTED"} | item
    return await add_order(
        rt,
        connection_id,
        state=OrderState.IMPORTED.value,
        imported_at=CREATED,
        parcel_id="100",
        tracking_id="CUB100",
        parcel_status="CREATED",
        parcel_updated_at=CREATED,
        items=[OrderItem(item_id=item_id, sku=f"SKU-{item_id}", **fields) for item_id in item_ids],
    )


async def _apply(rt: Runtime, order_id: str, parcel: Parcel) -> tuple[Order, list[tuple[str, str]]]:
    """Apply the parcel to the order; the order as stored afterwards, and its timeline."""
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id, options=[selectinload(Order.items)])
        connection = await session.get_one(Connection, order.connection_id)
        assert await apply_parcel(rt, session, connection, order, parcel)
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id, options=[selectinload(Order.items)])
        events = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
        )
        return order, [(event.kind, event.message) for event in events]


def _refused(upstreams: Upstreams, action: str, status: str) -> None:
    """Rakuten refuses `action` on every item, whose status there is `status`."""
    upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": action}).respond(200, content=ERROR_PARAMETER)
    upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getiteminfos"}).mock(
        side_effect=lambda request: _item_info(status, request.url.params["itemid"])
    )


async def test_an_item_cancelled_by_the_buyer_before_its_acceptance_has_the_order_checked_at_once(
    rt: Runtime, upstreams: Upstreams
) -> None:
    order_id = await _live_order(rt, "i1")
    _refused(upstreams, "acceptsale", "CANCELLED")
    before = utcnow()
    order, events = await _apply(rt, order_id, VALIDATED)
    assert order.state == OrderState.IMPORTED.value  # the check cancels the parcel while it still can
    assert order.next_check_at is not None
    assert order.next_check_at <= utcnow()
    assert order.next_check_at >= before
    assert (order.items[0].rakuten_status, order.items[0].accepted_at) == ("CANCELLED", None)
    assert order.items[0].cancelled_at is not None
    assert events == [("cancelled_on_rakuten", "Item i1 was cancelled on Rakuten.")]


async def test_an_acceptance_rakuten_refuses_for_another_reason_needs_a_person(
    rt: Runtime, upstreams: Upstreams
) -> None:
    order_id = await _live_order(rt, "i1")
    _refused(upstreams, "acceptsale", "TO_CONFIRM")
    order, events = await _apply(rt, order_id, VALIDATED)
    reason = "Rakuten refused an action on item i1 (its status there: TO_CONFIRM)."
    assert (order.state, order.reason, order.next_check_at) == (OrderState.NEEDS_ATTENTION.value, reason, None)
    assert order.items[0].rakuten_status == "TO_CONFIRM"
    assert events == [("needs_attention", reason)]


async def test_a_cancellation_refused_because_of_a_claim_says_both(rt: Runtime, upstreams: Upstreams) -> None:
    """Cubyn cancelled the parcel of an accepted item that is claimed on Rakuten: the claim is recorded
    as the scan would record it, and the refused cancellation is what the order shows."""
    order_id = await _live_order(rt, "i1", rakuten_status="ACCEPTED", accepted_at=CREATED)
    _refused(upstreams, "cancelitem", "ON_HOLD")
    cancelled = Parcel(id=100, status="CANCELLED", updated_at=CREATED + timedelta(hours=1))
    order, events = await _apply(rt, order_id, cancelled)
    reason = "Rakuten refused an action on item i1 (its status there: ON_HOLD)."
    assert (order.state, order.reason, order.next_check_at) == (OrderState.NEEDS_ATTENTION.value, reason, None)
    assert (order.items[0].rakuten_status, order.items[0].cancelled_at) == ("ON_HOLD", None)
    assert [kind for kind, _ in events] == ["parcel_status", "claim", "needs_attention"]


SHIPPED = Parcel(id=100, status="SHIPPED", shipped_at=CREATED, updated_at=CREATED + timedelta(hours=1))


def _tracking_answers(upstreams: Upstreams, file: bytes, infos: dict[str, httpx.Response]) -> dict[str, Any]:
    """Rakuten takes or refuses the tracking file; then item by item, `infos` are the items whose
    settrackingpackageinfos is refused (with their status read back), the others are done."""
    ok = httpx.Response(200, content=(FIXTURES / "settracking_ok.xml").read_bytes())
    calls: dict[str, Any] = {"file": upstreams.mock.post(f"{RAKUTEN_URL}/sales_ws").respond(200, content=file)}
    calls["items"] = upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "settrackingpackageinfos"})
    calls["items"].side_effect = lambda request: (
        httpx.Response(200, content=ERROR_PARAMETER) if request.url.params["itemid"] in infos else ok
    )
    calls["infos"] = upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getiteminfos"})
    calls["infos"].side_effect = lambda request: infos[request.url.params["itemid"]]
    return calls


ACCEPTED = {"rakuten_status": "ACCEPTED", "accepted_at": CREATED}


async def test_the_tracking_goes_in_one_file(rt: Runtime, upstreams: Upstreams) -> None:
    order_id = await _live_order(rt, "i1", "i2", **ACCEPTED)
    calls = _tracking_answers(upstreams, (FIXTURES / "importitemshippingstatus_ok.xml").read_bytes(), {})
    order, events = await _apply(rt, order_id, SHIPPED)
    assert (calls["file"].call_count, calls["items"].call_count) == (1, 0)
    assert order.state == OrderState.SHIPPED.value
    assert all(item.tracking_pushed_at is not None for item in order.items)
    assert events[-2:] == [
        ("tracking_pushed", "Tracking CUB100 sent to Rakuten for item(s) i1, i2."),
        ("shipped", "Order shipped."),
    ]


async def test_a_refused_tracking_file_is_sent_item_by_item_and_a_refused_item_needs_a_person(
    rt: Runtime, upstreams: Upstreams
) -> None:
    order_id = await _live_order(rt, "i1", "i2", "i3", **ACCEPTED)
    infos = {"i2": _item_info("ACCEPTED", "i2", shipped=True), "i3": _item_info("CANCELLED", "i3")}
    calls = _tracking_answers(upstreams, ERROR_PARAMETER, infos)
    order, events = await _apply(rt, order_id, SHIPPED)
    assert (calls["file"].call_count, calls["items"].call_count) == (1, 3)
    reason = "Rakuten refused the tracking of item(s) i3."
    assert (order.state, order.reason, order.next_check_at) == (OrderState.NEEDS_ATTENTION.value, reason, None)
    assert [item.tracking_pushed_at is not None for item in order.items] == [True, True, False]
    assert events[1:] == [
        ("tracking_pushed", "Tracking CUB100 sent to Rakuten for item(s) i1."),
        ("tracking_pushed", "Tracking CUB100 sent to Rakuten for item(s) i2."),  # already known there: done
        ("needs_attention", reason),
    ]


async def test_after_a_tracking_file_whose_outcome_is_unknown_the_items_go_one_by_one(
    rt: Runtime, upstreams: Upstreams
) -> None:
    order_id = await _live_order(rt, "i1", "i2", **ACCEPTED)
    calls = _tracking_answers(upstreams, b"", {})
    calls["file"].respond(500, content=(FIXTURES / "error_server.xml").read_bytes())
    with pytest.raises(RakutenTransientError):
        await _apply(rt, order_id, SHIPPED)  # the job is retried
    async with rt.sessions() as session:
        assert (await session.get_one(Order, order_id)).attempts == 1  # written before the file went
    order, events = await _apply(rt, order_id, SHIPPED)
    assert (calls["file"].call_count, calls["items"].call_count) == (1, 2)  # no second file
    assert order.state == OrderState.SHIPPED.value
    assert all(item.tracking_pushed_at is not None for item in order.items)
    assert [kind for kind, _ in events].count("tracking_pushed") == 2


def _stock(status: str, minutes: int, error: str | None = "STOCK_CHECK_FAILED", **fields: Any) -> Parcel:
    check = {"status": status, **({"error": error} if error and status == "FAILED" else {})}
    updated = CREATED + timedelta(minutes=minutes)
    return Parcel.model_validate(
        {
            "id": 100,
            "status": "CREATED",
            "validations": {"stock": check},
            "updatedAt": updated.isoformat(),
            **fields,
        }
    )


async def test_a_failing_stock_check_is_written_down_once_and_brings_the_refusal_check_forward(
    rt: Runtime,
) -> None:
    connection_id = await add_live_connection(rt, refuse_out_of_stock_after_hours=3)
    order_id = await add_order(
        rt,
        connection_id,
        state=OrderState.IMPORTED.value,
        parcel_id="100",
        parcel_status="CREATED",
        parcel_updated_at=CREATED,
        items=[OrderItem(item_id="i1", sku="SKU-1", rakuten_status="REQUESTED")],
    )
    before = utcnow()
    order, _ = await _apply(rt, order_id, _stock("FAILED", 1))
    since = order.stock_failed_since
    assert since is not None
    assert before <= since <= utcnow()
    assert (order.state, order.next_check_at) == (OrderState.NEEDS_ATTENTION.value, since + timedelta(hours=3))
    assert order.reason is not None
    assert "refused on Rakuten 3 hours after Cubyn's stock check failed" in order.reason
    for later in (_stock("FAILED", 2), _stock("PENDING", 3), _stock("FAILED", 4)):  # Cubyn checks again
        order, _ = await _apply(rt, order_id, later)
        assert order.stock_failed_since == since
        assert order.next_check_at == since + timedelta(hours=3)
    order, _ = await _apply(rt, order_id, _stock("FAILED", 5, error="VALIDATION_FAILED"))
    assert (order.stock_failed_since, order.next_check_at) == (None, None)  # an unknown SKU is not out of stock


async def test_a_restocked_parcel_forgets_the_stock_failure(rt: Runtime, upstreams: Upstreams) -> None:
    order_id = await _live_order(rt, "i1")
    async with rt.sessions() as session:
        (await session.get_one(Order, order_id)).stock_failed_since = CREATED
        await session.commit()
    ok = (FIXTURES / "acceptsale_ok.xml").read_bytes()
    upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "acceptsale"}).respond(200, content=ok)
    validated = _stock("PASSED", 1, validatedAt=(CREATED + timedelta(minutes=1)).isoformat())
    order, _ = await _apply(rt, order_id, validated)
    assert (order.state, order.stock_failed_since) == (OrderState.ACCEPTED.value, None)


async def test_the_event_of_a_parcel_cancelled_after_its_order_keeps_the_orders_reason(rt: Runtime) -> None:
    reason = "Cubyn had no stock for this order for 2 hours: the Cubyn parcel was cancelled and the sale refused on Rakuten."
    order_id = await _live_order(rt, "i1", rakuten_status="REFUSED", refused_at=CREATED)
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id)
        order.state, order.reason, order.parcel_status = OrderState.CANCELLED.value, reason, "CANCELLED"
        await session.commit()
    cancelled = Parcel(id=100, status="CANCELLED", updated_at=CREATED + timedelta(hours=2))
    order, events = await _apply(rt, order_id, cancelled)
    assert (order.state, order.reason, events) == (OrderState.CANCELLED.value, reason, [])
