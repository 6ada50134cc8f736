"""Parcel states applied to an order while its connection is paused: the Rakuten actions wait, and an
older event handled later cannot settle the order or push back the check that performs them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import selectinload

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.orders.progress import apply_parcel
from rakuten_connector.runtime import Runtime


async def test_an_older_event_after_a_deferred_newer_one_is_stale(rt: Runtime) -> None:
    created = utcnow() - timedelta(minutes=2)
    async with rt.sessions() as session:
        connection = Connection(
            merchant_id="m",
            name="n",
            seller_id="s",
            seller_key="s",
            state=ConnectionState.ACTIVE.value,
            paused=True,
        )
        session.add(connection)
        await session.flush()
        order = Order(
            connection_id=connection.id,
            purchase_id="p1",
            state=OrderState.IMPORTED.value,
            imported_at=created,
            parcel_id="100",
            parcel_status="CREATED",
            parcel_updated_at=created,
            items=[OrderItem(item_id="i1", sku="SKU-1", rakuten_status="REQUESTED")],
        )
        session.add(order)
        await session.commit()
        order_id = order.id

    checked = Parcel(id=100, status="CREATED", updated_at=created + timedelta(seconds=30))
    validated = Parcel(
        id=100,
        status="CREATED",
        validated_at=created + timedelta(seconds=31),
        updated_at=created + timedelta(seconds=31),
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
