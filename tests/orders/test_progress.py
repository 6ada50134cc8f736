"""Parcel states applied to an order: while its connection is paused the Rakuten actions wait, and an
older event handled later cannot settle the order or push back the check that performs them; a claim
open on Rakuten stays in sight whatever the parcel does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import selectinload

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.orders.progress import apply_parcel
from rakuten_connector.runtime import Runtime

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
