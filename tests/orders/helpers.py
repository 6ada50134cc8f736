"""What the order tests set up: a live connection with its secrets, an order on it, a lease taken over."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order
from rakuten_connector.runtime import Runtime
from tests.upstream_fakes import GOOD_KEY, GOOD_TOKEN
from tests.waiting import wait_until


async def add_live_connection(rt: Runtime, **fields: Any) -> str:
    """An active connection with a good Rakuten token and Cubyn key (a seller of its own unless told);
    returns its id."""
    seller = fields.get("seller_id", f"shop-{uuid.uuid4().hex[:8]}")
    values: dict[str, Any] = {
        "merchant_id": "m",
        "name": "n",
        "seller_id": seller,
        "seller_key": seller,
        "state": ConnectionState.ACTIVE.value,
        "rakuten_token_enc": rt.box.encrypt(GOOD_TOKEN),
        "cubyn_api_key_enc": rt.box.encrypt(GOOD_KEY),
    }
    async with rt.sessions() as session:
        connection = Connection(**(values | fields))
        session.add(connection)
        await session.commit()
        return connection.id


async def add_order(rt: Runtime, connection_id: str, **fields: Any) -> str:
    """An order of the connection (purchase `1`, no items unless given); returns its id."""
    values: dict[str, Any] = {"purchase_id": "1", "imported_at": utcnow(), "items": []}
    async with rt.sessions() as session:
        order = Order(connection_id=connection_id, **(values | fields))
        session.add(order)
        await session.commit()
        return order.id


async def taken_over(sessions: async_sessionmaker[AsyncSession], model: Any, row_id: str) -> None:
    """Another worker takes the row's lease over; returns once the running worker has noticed."""
    async with sessions() as session:
        await session.execute(
            update(model)
            .where(model.id == row_id)
            .values(lease_owner="other-worker", lease_until=utcnow() + timedelta(minutes=5))
        )
        await session.commit()
    holds = leases.current()
    assert holds
    await wait_until(lambda: all(hold.lost for hold in holds), what="the takeover to be noticed")
