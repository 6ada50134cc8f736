"""The connector's own accept, refuse and cancel of an item: its Rakuten status, the instant it was reached
and the timeline event, each as the API's timeline shows it."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.item_status import OwnStatus, record_own_action
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem, OrderState
from rakuten_connector.runtime import Runtime
from tests.orders.helpers import add_live_connection, add_order


@pytest.mark.parametrize(
    ("status", "column", "kind", "message"),
    [
        ("ACCEPTED", "accepted_at", "item_accepted", "Item i1 (SKU-1) accepted on Rakuten."),
        ("REFUSED", "refused_at", "item_refused", "Item i1 refused on Rakuten."),
        ("CANCELLED", "cancelled_at", "item_cancelled", "Item i1 cancelled on Rakuten."),
    ],
)
async def test_an_action_of_the_connector_records_the_items_status_its_instant_and_its_event(
    rt: Runtime, status: OwnStatus, column: str, kind: str, message: str
) -> None:
    connection_id = await add_live_connection(rt)
    items = [
        OrderItem(item_id="i1", sku="SKU-1", rakuten_status="REQUESTED"),
        OrderItem(item_id="i2", sku="SKU-2", rakuten_status="REQUESTED"),
    ]
    order_id = await add_order(rt, connection_id, state=OrderState.IMPORTED.value, items=items)
    async with rt.sessions() as session:
        order = await session.get_one(Order, order_id, options=[selectinload(Order.items)])
        acted, untouched = sorted(order.items, key=lambda item: item.item_id)
        before = utcnow()
        record_own_action(session, order, acted, status)
        await session.commit()
        assert acted.rakuten_status == status
        assert before <= getattr(acted, column) <= utcnow()
        others = {"accepted_at", "refused_at", "cancelled_at"} - {column}
        assert [getattr(acted, other) for other in sorted(others)] == [None, None]
        assert (untouched.rakuten_status, untouched.accepted_at, untouched.refused_at) == ("REQUESTED", None, None)
        assert order.state == OrderState.IMPORTED.value  # the order's own state is the caller's
        events = await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id))
        assert [(event.kind, event.message) for event in events] == [(kind, message)]
