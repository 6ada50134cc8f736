"""Looking at one order again under its lease: a worker whose lease was taken over stops there."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.check import check_order
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.order_lease import with_order
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from tests.clients.test_cubyn_client import REQUEST
from tests.conftest import CUBYN_URL
from tests.orders.helpers import taken_over
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
