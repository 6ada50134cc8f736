"""Order queries, transitions, retries and timeline, for the routes, the steps of the flow and the
connections. Services flush but never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, get_args

from sqlalchemy import ColumnElement, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rakuten_connector.connections.imports import ask_import_now
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.usable import must_take_work
from rakuten_connector.kit.after_commit import after_commit
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.cursors import decode_position, encode_position, fetch_page
from rakuten_connector.kit.errors import ApiError, NotFound
from rakuten_connector.kit.queue import Job
from rakuten_connector.metrics.families import ORDERS_FAILED
from rakuten_connector.orders.jobs import import_now_job
from rakuten_connector.orders.models import Order, OrderEvent, OrderState
from rakuten_connector.orders.schemas import RetryableState

RETRYABLE: frozenset[OrderState] = frozenset(get_args(RetryableState))
# Orders one bulk retry claims, writes and queues per transaction.
RETRY_CHUNK = 500
RETRY_REQUESTED = "retry_requested"


def _event(order: Order, kind: str, message: str) -> dict[str, Any]:
    return {"order_id": order.id, "at": utcnow(), "kind": kind, "message": message}


def add_event(session: AsyncSession, order: Order, kind: str, message: str) -> None:
    session.add(OrderEvent(**_event(order, kind, message)))


def transition(
    session: AsyncSession, order: Order, state: OrderState, kind: str, message: str, reason: str | None = None
) -> None:
    """Change the state (or not) and always say so in the timeline."""
    order.state = state.value
    order.reason = reason
    add_event(session, order, kind, message)
    if state is OrderState.FAILED:
        after_commit(session, ORDERS_FAILED.inc)


async def wake_waiting_orders(session: AsyncSession, connection_id: str) -> None:
    """Make every order of the connection that waits for a next step due now: the sweep picks up the
    Rakuten actions that waited while the connection was paused or its credentials were refused."""
    await session.execute(
        update(Order)
        .where(Order.connection_id == connection_id, Order.next_check_at.is_not(None))
        .values(next_check_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def request_import(connection: Connection) -> Job:
    """Ask the connection's import now (409 when it takes no work); returns its job, to send once committed."""
    must_take_work(connection)
    return import_now_job(connection.id, ask_import_now(connection))


async def list_orders(
    session: AsyncSession,
    state: OrderState | None,
    limit: int,
    cursor: str | None,
    *,
    connection_id: str | None = None,
    merchant_id: str | None = None,
) -> tuple[Sequence[Order], str | None]:
    """A page of orders, newest first, after `cursor`; every filter given narrows it (those of one
    connection, of one merchant's connections, in one state)."""
    query = select(Order).options(selectinload(Order.items)).order_by(Order.imported_at.desc(), Order.id.desc())
    if connection_id is not None:
        query = query.where(Order.connection_id == connection_id)
    if merchant_id is not None:
        query = query.where(
            Order.connection_id.in_(select(Connection.id).where(Connection.merchant_id == merchant_id))
        )
    if state is not None:
        query = query.where(Order.state == state.value)
    if cursor:
        imported_at, order_id = decode_position(cursor)
        # A row comparison, which an index on (..., imported_at, id) seeks to: a deep page costs what the first does.
        query = query.where(tuple_(Order.imported_at, Order.id) < tuple_(imported_at, order_id))
    return await fetch_page(session, query, limit, lambda order: encode_position(order.imported_at, order.id))


async def get_order(session: AsyncSession, connection_id: str, purchase_id: str) -> Order:
    order = await session.scalar(
        select(Order)
        .where(Order.connection_id == connection_id, Order.purchase_id == purchase_id)
        .options(selectinload(Order.items))
    )
    if order is None:
        raise NotFound("order")
    return order


async def timeline(session: AsyncSession, order: Order) -> Sequence[OrderEvent]:
    return (
        await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id))
    ).all()


def _ready_for_retry(order: Order) -> str:
    """Make `order` retried by its next check (409 unless it failed or needs attention); returns what its
    timeline says of it."""
    if order.state not in RETRYABLE:
        raise ApiError(
            409,
            "order_not_retryable",
            f"Only failed or needs-attention orders can be retried (this one is {order.state}).",
        )
    order.attempts = 0
    order.last_error = None
    order.next_check_at = utcnow()
    if order.parcel_id is None:
        order.state, order.reason = OrderState.IMPORTING.value, None
        return "Retry asked: the parcel will be created again."
    return "Retry asked: the parcel and the Rakuten items will be checked again."


def request_retry(session: AsyncSession, order: Order) -> None:
    """Ask the retry of one order: 409 unless it failed or needs attention."""
    add_event(session, order, RETRY_REQUESTED, _ready_for_retry(order))


def _retry_may_start(state: RetryableState, now: datetime) -> list[ColumnElement[bool]]:
    """An order in `state` that no check waits for (a retry asked earlier is one) and no worker holds."""
    return [
        Order.state == state.value,
        Order.next_check_at.is_(None),
        or_(Order.lease_until.is_(None), Order.lease_until < now),
    ]


async def retry_candidates(session: AsyncSession, connection_id: str, state: RetryableState) -> list[list[str]]:
    """The ids of the connection's orders in `state` that a retry may be asked for, oldest first, in lists of
    RETRY_CHUNK (a list read once: an order retried and settled again meanwhile is not retried twice)."""
    query = select(Order.id).where(Order.connection_id == connection_id, *_retry_may_start(state, utcnow()))
    order_ids = list(await session.scalars(query.order_by(Order.imported_at, Order.id)))
    return [order_ids[start : start + RETRY_CHUNK] for start in range(0, len(order_ids), RETRY_CHUNK)]


async def request_retries(session: AsyncSession, order_ids: Sequence[str], state: RetryableState) -> list[Order]:
    """Ask the retry of those of `order_ids` that still may have one, as `request_retry` does; returns them.

    One conditional UPDATE claims them first (their check is due now), so a retry asked meanwhile by another
    request, or a worker that took one of them since it was read, leaves it out: two bulk retries never ask
    an order's retry twice."""
    now = utcnow()
    claim = (
        update(Order)
        .where(Order.id.in_(order_ids), *_retry_may_start(state, now))
        .values(next_check_at=now)
        .returning(Order)
    )
    orders = list(await session.scalars(claim, execution_options={"synchronize_session": False}))
    events = [_event(order, RETRY_REQUESTED, _ready_for_retry(order)) for order in orders]
    await session.flush()
    if events:
        # One statement for the chunk's timeline: the ORM would insert the events one by one to read their ids.
        await session.execute(insert(OrderEvent), events)
    return orders


async def counts_by_state(session: AsyncSession, connection_ids: list[str]) -> dict[str, dict[str, int]]:
    """How many orders each connection has in each state (every state present, 0 when none)."""
    counts: dict[str, dict[str, int]] = {cid: {state.value: 0 for state in OrderState} for cid in connection_ids}
    if not connection_ids:
        return counts
    query = (
        select(Order.connection_id, Order.state, func.count())
        .where(Order.connection_id.in_(connection_ids))
        .group_by(Order.connection_id, Order.state)
    )
    for connection_id, state, count in (await session.execute(query)).all():
        counts[connection_id][state] = count
    return counts
