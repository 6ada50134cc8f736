"""The order lease: one worker at a time acts on an order, whatever arq, the sweep or the webhooks do.

`with_order` takes the order's lease (a conditional UPDATE in `kit.leases`), reads the order and its
connection, and runs one step of the order's flow on them: the creation of its parcel
(`parcel_creation`), the application of a parcel event (`progress`), or a new look at it (`check`).
While the step runs, its commits and upstream calls are made on behalf of the lease; a step whose lease
was taken over stops at the next one with LeaseLost, and the worker that took it over finishes the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.clients.cubyn import CubynAuthError
from rakuten_connector.clients.rakuten import RakutenCredentialsError
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.service import credentials_refused
from rakuten_connector.kit import leases
from rakuten_connector.orders.models import Order
from rakuten_connector.runtime import Runtime

OrderStep = Callable[[Runtime, AsyncSession, Connection, Order], Awaitable[None]]
OrdersStep = Callable[[Runtime, AsyncSession, Connection, Sequence[Order]], Awaitable[None]]
# An upstream refusing the connection's credentials, met by a step (already written on the connection).
Refusal = CubynAuthError | RakutenCredentialsError


class OrderBusy(Exception):
    """Another worker holds the order right now: try again shortly."""


async def with_order(rt: Runtime, order_id: str, step: OrderStep) -> None:
    """Run `step` on the order under its lease; raises OrderBusy when another worker holds it. An order that
    no longer exists has nothing to do (a job queued before it was deleted ends at once, not after retries).

    Nothing runs for an order of a disconnected connection. Cubyn refusing the connection's key, or
    Rakuten its token, marks the connection's credentials invalid (the step's uncommitted work is
    dropped). The step's upstream calls and commits raise LeaseLost once the order's lease (or the lease
    of the import that runs it) is lost: it stops there, and the worker that took the order over
    finishes it.
    """
    lease = timedelta(seconds=rt.settings.lease_seconds)
    async with leases.held(rt.engine, Order, order_id, rt.owner, lease) as mine:
        if not mine:
            async with rt.sessions() as session:
                if await session.get(Order, order_id) is None:
                    return
            raise OrderBusy(order_id)
        async with rt.sessions() as session:
            order = await session.get(Order, order_id, options=[selectinload(Order.items)])
            if order is None:
                return
            structlog.contextvars.bind_contextvars(
                connection_id=order.connection_id, purchase_id=order.purchase_id
            )
            connection = await session.get_one(Connection, order.connection_id)
            await _run(session, connection, lambda: step(rt, session, connection, order))


async def with_orders(
    rt: Runtime, connection_id: str, order_ids: Sequence[str], step: OrdersStep
) -> Refusal | None:
    """Run `step` once on those of the connection's orders whose lease is free, all leased, read and
    written together (a batch of the poll's parcel creations); the others are being worked on by another
    job, which finishes them. Otherwise as `with_order`; returns an upstream's refusal of the connection's
    credentials, once written down, so that the caller stops calling upstream for it."""
    structlog.contextvars.bind_contextvars(connection_id=connection_id)
    lease = timedelta(seconds=rt.settings.lease_seconds)
    async with leases.held_each(rt.engine, Order, order_ids, rt.owner, lease) as hold:
        if hold is None:
            return None
        async with rt.sessions() as session:
            connection = await session.get_one(Connection, connection_id)
            query = select(Order).where(Order.id.in_(hold.row_ids), Order.connection_id == connection_id)
            orders = list(
                await session.scalars(query.options(selectinload(Order.items)).order_by(Order.imported_at))
            )
            return await _run(session, connection, lambda: step(rt, session, connection, orders))


async def _run(
    session: AsyncSession, connection: Connection, step: Callable[[], Awaitable[None]]
) -> Refusal | None:
    """A step, unless the connection is disconnected; Cubyn refusing its key or Rakuten its token marks its
    credentials invalid (the step's uncommitted work is dropped) and that refusal is returned."""
    if not connection.is_live:
        return None
    try:
        await step()
    except (CubynAuthError, RakutenCredentialsError) as refusal:
        await session.rollback()
        await credentials_refused(
            session, connection, "cubyn" if isinstance(refusal, CubynAuthError) else "rakuten"
        )
        return refusal
    return None
