"""Rakuten-side cancellations and claims: one recorder for every status Rakuten gives (its timeline event
and its claim), the two detectors that read them during the poll, and the settlement that stops the
parcel or asks for a person."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.item_status import claim_reason, record_rakuten_status
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem, OrderState
from rakuten_connector.orders.rakuten_cancellations import (
    read_vanished_sales,
    scan_current_sales,
    settle_rakuten_cancellation,
)
from rakuten_connector.runtime import Runtime
from tests.clients.test_cubyn_client import PARCEL
from tests.conftest import CUBYN_URL, RAKUTEN_URL
from tests.orders.helpers import add_live_connection, add_order
from tests.upstream_fakes import Upstreams

FIXTURES = Path(__file__).parent.parent / "clients/fixtures/rakuten"


async def _loaded(session: AsyncSession, order_id: str) -> Order:
    return await session.get_one(Order, order_id, options=[selectinload(Order.items)])


async def _events(session: AsyncSession, order_id: str) -> list[tuple[str, str]]:
    rows = await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
    return [(event.kind, event.message) for event in rows]


async def _imported(rt: Runtime, *item_ids: str, **fields: object) -> str:
    connection_id = await add_live_connection(rt)
    items = [OrderItem(item_id=item_id, sku=f"SKU-{item_id}", rakuten_status="REQUESTED") for item_id in item_ids]
    values: dict[str, object] = {"state": OrderState.IMPORTED.value, "parcel_id": "100", "items": items}
    return await add_order(rt, connection_id, **(values | fields))


@pytest.mark.parametrize(
    ("status", "column", "message"),
    [
        ("CANCELLED", "cancelled_at", "Item i1 was cancelled on Rakuten."),
        (" refused\n", "refused_at", "Item i1 was refused on Rakuten."),
    ],
)
async def test_an_item_gone_on_rakuten_is_noted_once_in_the_timeline(
    rt: Runtime, status: str, column: str, message: str
) -> None:
    order_id = await _imported(rt, "i1")
    async with rt.sessions() as session:
        order = await _loaded(session, order_id)
        [item] = order.items
        assert record_rakuten_status(session, order, item, status)
        assert not record_rakuten_status(session, order, item, status)  # already recorded: nothing more
        await session.commit()
        assert item.rakuten_status == status.strip().upper()
        assert getattr(item, column) is not None
        assert order.state == OrderState.IMPORTED.value  # the order check settles it, not the recorder
        assert await _events(session, order_id) == [("cancelled_on_rakuten", message)]


async def test_an_item_accepted_in_the_back_office_is_never_accepted_again(rt: Runtime) -> None:
    order_id = await _imported(rt, "i1")
    async with rt.sessions() as session:
        order = await _loaded(session, order_id)
        [item] = order.items
        assert not record_rakuten_status(session, order, item, "COMMITTED")
        await session.commit()
        assert (item.rakuten_status, item.accepted_at is not None) == ("COMMITTED", True)
        assert await _events(session, order_id) == []


async def test_a_claim_needs_the_merchant_and_is_not_checked_again(rt: Runtime) -> None:
    order_id = await _imported(rt, "i1", next_check_at=utcnow())
    async with rt.sessions() as session:
        order = await _loaded(session, order_id)
        [item] = order.items
        assert not record_rakuten_status(session, order, item, "pending_claim")
        await session.commit()
        reason = claim_reason("i1", "PENDING_CLAIM")
        assert (order.state, order.reason, order.next_check_at) == (OrderState.NEEDS_ATTENTION.value, reason, None)
        assert await _events(session, order_id) == [("claim", reason)]


async def test_an_empty_or_unchanged_status_changes_nothing(rt: Runtime) -> None:
    order_id = await _imported(rt, "i1")
    async with rt.sessions() as session:
        order = await _loaded(session, order_id)
        [item] = order.items
        for status in ("", "  ", "requested"):
            assert not record_rakuten_status(session, order, item, status)
        await session.commit()
        assert (item.rakuten_status, item.cancelled_at, item.refused_at, item.accepted_at) == (
            "REQUESTED",
            None,
            None,
            None,
        )
        assert await _events(session, order_id) == []


def _item_info(status: str, item_id: str) -> httpx.Response:
    """getiteminfos' answer about `item_id` (Rakuten names the item it answers for)."""
    content = (FIXTURES / "getiteminfos.xml").read_bytes().replace(b"ACCEPTED", status.encode())
    return httpx.Response(200, content=content.replace(b"260306083", item_id.encode()))


async def test_an_unaccepted_order_gone_from_getnewsales_has_its_items_read_once(
    rt: Runtime, upstreams: Upstreams
) -> None:
    started = utcnow()
    vanished = await _imported(rt, "i1", "i2", rakuten_seen_at=started - timedelta(minutes=5))
    async with rt.sessions() as session:
        connection_id = (await session.get_one(Order, vanished)).connection_id
    listed = await add_order(
        rt, connection_id, purchase_id="2", state=OrderState.IMPORTED.value, rakuten_seen_at=started
    )
    statuses = {"i1": "CANCELLED", "i2": "REQUESTED"}
    reads = upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getiteminfos"})
    reads.side_effect = lambda request: _item_info(
        statuses[request.url.params["itemid"]], request.url.params["itemid"]
    )
    async with rt.sessions() as session:
        rakuten = rt.rakuten(await session.get_one(Connection, connection_id))
        assert await read_vanished_sales(session, rakuten, connection_id, started) == [vanished]
        assert reads.call_count == 2
        # Read once per disappearance: the next polls read nothing.
        for later in (started, started + timedelta(minutes=5), started + timedelta(hours=1)):
            assert await read_vanished_sales(session, rakuten, connection_id, later) == []
        assert reads.call_count == 2
    async with rt.sessions() as session:
        order = await _loaded(session, vanished)
        assert [item.cancelled_at is not None for item in order.items] == [True, False]
        assert order.next_check_at is not None
        assert (await session.get_one(Order, listed)).next_check_at is None


async def test_a_vanished_sale_whose_status_did_not_change_is_not_read_at_every_poll(
    rt: Runtime, upstreams: Upstreams
) -> None:
    """getiteminfos marks the buyer's messages as read: a sale that stays out of getnewsales while its
    item's status there is unchanged is read once, however many polls follow; listed again, then gone
    again, it is read once more."""
    started = utcnow()
    order_id = await _imported(rt, "i1", rakuten_seen_at=started - timedelta(minutes=5))
    async with rt.sessions() as session:
        connection_id = (await session.get_one(Order, order_id)).connection_id
    reads = upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getiteminfos"})
    reads.side_effect = lambda request: _item_info("REQUESTED", request.url.params["itemid"])  # unchanged
    async with rt.sessions() as session:
        rakuten = rt.rakuten(await session.get_one(Connection, connection_id))
        for poll in range(4):
            assert (
                await read_vanished_sales(session, rakuten, connection_id, started + poll * timedelta(minutes=5))
                == []
            )
        assert reads.call_count == 1
        # getnewsales lists it again (what recording does), then no longer: one more read.
        order = await session.get_one(Order, order_id)
        order.rakuten_seen_at = started + timedelta(minutes=20)
        await session.commit()
        for poll in range(5, 8):
            await read_vanished_sales(session, rakuten, connection_id, started + poll * timedelta(minutes=5))
        assert reads.call_count == 2
    async with rt.sessions() as session:
        assert (await _loaded(session, order_id)).items[0].rakuten_status == "REQUESTED"


async def test_the_current_sales_scan_records_what_rakuten_says_of_open_orders(
    rt: Runtime, upstreams: Upstreams
) -> None:
    content = (FIXTURES / "getcurrentsales_page2.xml").read_bytes().replace(b"ACCEPTED", b"CANCELLED")
    upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getcurrentsales"}).respond(
        200, content=content
    )
    reads = upstreams.mock.get(f"{RAKUTEN_URL}/sales_ws", params={"action": "getiteminfos"})
    order_id = await _imported(rt, "319000039", purchase_id="31900003", state=OrderState.ACCEPTED.value)
    async with rt.sessions() as session:
        connection_id = (await session.get_one(Order, order_id)).connection_id
        rakuten = rt.rakuten(await session.get_one(Connection, connection_id))
        assert await scan_current_sales(session, rakuten, connection_id) == [order_id]
        assert await scan_current_sales(session, rakuten, connection_id) == []
    assert reads.call_count == 0  # the periodic scan never reads items one by one
    async with rt.sessions() as session:
        order = await _loaded(session, order_id)
        assert order.items[0].cancelled_at is not None
        assert order.next_check_at is not None
        assert [kind for kind, _ in await _events(session, order_id)] == ["cancelled_on_rakuten"]


async def _settle(rt: Runtime, order_id: str) -> tuple[bool, Order]:
    async with rt.sessions() as session:
        order = await _loaded(session, order_id)
        connection = await session.get_one(Connection, order.connection_id)
        settled = await settle_rakuten_cancellation(rt, session, connection, order)
    async with rt.sessions() as session:
        return settled, await _loaded(session, order_id)


async def test_an_order_cancelled_on_rakuten_has_its_parcel_cancelled(rt: Runtime, upstreams: Upstreams) -> None:
    order_id = await _imported(rt, "i1", next_check_at=utcnow())
    async with rt.sessions() as session:
        order = await _loaded(session, order_id)
        record_rakuten_status(session, order, order.items[0], "CANCELLED")
        await session.commit()
    cancel = upstreams.mock.put(f"{CUBYN_URL}/parcels/100/cancel").respond(
        200, json=PARCEL | {"id": 100, "status": "CANCELLED"}
    )
    settled, order = await _settle(rt, order_id)
    assert settled
    assert cancel.call_count == 1
    assert (order.state, order.parcel_status, order.next_check_at) == ("cancelled", "CANCELLED", None)


async def test_a_parcel_the_warehouse_works_on_or_a_partial_cancellation_needs_a_person(
    rt: Runtime, upstreams: Upstreams
) -> None:
    upstreams.mock.put(f"{CUBYN_URL}/parcels/100/cancel").respond(409, json={"message": "Parcel is PICKED"})
    whole = await _imported(rt, "i1")
    partial = await _imported(rt, "i2", "i3", purchase_id="2")
    for order_id in (whole, partial):
        async with rt.sessions() as session:
            order = await _loaded(session, order_id)
            record_rakuten_status(session, order, order.items[0], "CANCELLED")
            await session.commit()
    settled, order = await _settle(rt, whole)
    assert settled
    assert (order.state, order.next_check_at) == ("needs_attention", None)
    assert order.reason is not None
    assert "already processing" in order.reason
    settled, order = await _settle(rt, partial)
    assert settled
    assert order.state == "needs_attention"
    assert order.reason is not None
    assert order.reason.startswith("1 of 2 item(s) were cancelled on Rakuten")


async def test_an_order_with_every_item_live_is_not_settled(rt: Runtime, upstreams: Upstreams) -> None:
    order_id = await _imported(rt, "i1")
    settled, order = await _settle(rt, order_id)
    assert not settled
    assert order.state == OrderState.IMPORTED.value
