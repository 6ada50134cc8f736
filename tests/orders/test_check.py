"""Looking at one order again: its next step by its state (finish its import, settle a Rakuten
cancellation, re-read its parcel), nothing more for an order with no step left; a worker whose lease
was taken over stops there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.check import check_order
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.orders.order_lease import with_order
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from tests.clients.test_cubyn_client import PARCEL, REQUEST
from tests.conftest import CUBYN_URL
from tests.orders.helpers import add_live_connection, add_order, taken_over
from tests.upstream_fakes import GOOD_KEY, GOOD_TOKEN, Upstreams


async def test_an_order_taken_over_while_cubyn_answers_makes_no_parcel_and_writes_nothing(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    rt = Runtime.start(settings.model_copy(update={"lease_seconds": 2}))  # renewed every 0.7 s
    try:
        async with rt.sessions() as session:
            connection = Connection(
                merchant_id="m",
                name="n",
                seller_id="shop",
                seller_key="shop",
                state=ConnectionState.ACTIVE.value,
                rakuten_token_enc=rt.box.encrypt(GOOD_TOKEN),
                cubyn_api_key_enc=rt.box.encrypt(GOOD_KEY),
            )
            session.add(connection)
            await session.flush()
            order = Order(
                connection_id=connection.id,
                purchase_id="1",
                state=OrderState.IMPORTING.value,
                parcel_request=REQUEST.model_dump_json(by_alias=True),
                attempts=1,  # an earlier attempt's outcome is unknown: look the parcel up first
                imported_at=utcnow(),
                items=[],
            )
            session.add(order)
            await session.commit()

        async def lookup(request: httpx.Request) -> httpx.Response:
            await taken_over(sessions, Order, order.id)
            return httpx.Response(200, json=[])

        upstreams.mock.get(f"{CUBYN_URL}/parcels").side_effect = lookup
        creates = upstreams.mock.post(f"{CUBYN_URL}/parcels").respond(201, json={})
        with pytest.raises(leases.LeaseLost):
            await with_order(rt, order.id, check_order)
    finally:
        await rt.close()
    assert not creates.called
    async with sessions() as session:
        again = await session.get_one(Order, order.id)
    assert (again.attempts, again.state, again.lease_owner) == (1, OrderState.IMPORTING.value, "other-worker")


async def _check(rt: Runtime, **fields: Any) -> Order:
    order_id = await add_order(rt, await add_live_connection(rt), **fields)
    await with_order(rt, order_id, check_order)
    async with rt.sessions() as session:
        return await session.get_one(Order, order_id)


@pytest.mark.parametrize(
    "fields",
    [
        {"state": OrderState.CANCELLED.value},
        {"state": OrderState.SKIPPED.value},
        {"state": OrderState.FAILED.value},
        {"state": OrderState.IMPORTED.value, "parcel_id": None},
    ],
    ids=["cancelled", "skipped", "failed", "no parcel"],
)
async def test_an_order_with_no_step_left_is_not_looked_at_again(
    rt: Runtime, upstreams: Upstreams, fields: dict[str, Any]
) -> None:
    order = await _check(rt, next_check_at=utcnow(), **fields)
    assert (order.state, order.next_check_at) == (fields["state"], None)


async def test_a_parcel_cubyn_no_longer_knows_needs_a_person(rt: Runtime, upstreams: Upstreams) -> None:
    upstreams.mock.get(f"{CUBYN_URL}/parcels/100").respond(404, json={"message": "not found"})
    order = await _check(rt, state=OrderState.IMPORTED.value, parcel_id="100", tracking_id="CUB100")
    reason = "Cubyn no longer knows parcel CUB100. Check the order at Cubyn."
    assert (order.state, order.reason, order.next_check_at) == ("needs_attention", reason, None)


async def test_a_parcel_read_again_without_news_is_read_again_later(rt: Runtime, upstreams: Upstreams) -> None:
    upstreams.mock.get(f"{CUBYN_URL}/parcels/123456").respond(200, json=PARCEL)
    newer = datetime(2026, 11, 28, tzinfo=UTC)  # the newest state applied is newer than what Cubyn answers
    order = await _check(rt, state=OrderState.IMPORTED.value, parcel_id="123456", parcel_updated_at=newer)
    assert order.state == OrderState.IMPORTED.value
    assert order.next_check_at is not None
    assert order.next_check_at > utcnow() + timedelta(minutes=29)


async def test_an_order_cancelled_on_rakuten_is_settled_before_its_parcel_is_read(
    rt: Runtime, upstreams: Upstreams
) -> None:
    read = upstreams.mock.get(f"{CUBYN_URL}/parcels/123456").respond(200, json=PARCEL)
    cancel = upstreams.mock.put(f"{CUBYN_URL}/parcels/123456/cancel").respond(
        200, json=PARCEL | {"status": "CANCELLED"}
    )
    item = OrderItem(item_id="i1", sku="SKU-1", rakuten_status="CANCELLED", cancelled_at=utcnow())
    order = await _check(rt, state=OrderState.IMPORTED.value, parcel_id="123456", items=[item])
    assert (order.state, order.parcel_status) == ("cancelled", "CANCELLED")
    assert (cancel.call_count, read.call_count) == (1, 0)
