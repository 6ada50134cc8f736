"""The import of one connection (design.md section 5): getnewsales -> orders -> parcels, and Rakuten-side
cancellations. One worker at a time per connection (a database lease), whatever arq or the ticks do."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn import CubynAuthError
from rakuten_connector.clients.rakuten import (
    RakutenCredentialsError,
    RakutenError,
    RakutenQuotaExceeded,
)
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.scheduling import next_import_at, retry_after_failure
from rakuten_connector.connections.service import mark_credentials_invalid
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.cancellations import read_vanished_sales, scan_current_sales
from rakuten_connector.orders.checks import CUBYN_REFUSED, RAKUTEN_REFUSED, with_order
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.parcels import ensure_parcel
from rakuten_connector.orders.recording import record_sales
from rakuten_connector.runtime import Runtime

log = structlog.get_logger(__name__)

PARCEL_CONCURRENCY = 8


async def import_connection(rt: Runtime, connection_id: str, *, force: bool = False) -> str:
    """Run one import; returns what happened (for logs and tests)."""
    lease = timedelta(seconds=rt.settings.lease_seconds)
    async with leases.held(rt.sessions, Connection, connection_id, rt.owner, lease) as mine:
        if not mine:
            return "busy"
        async with rt.sessions() as session:
            connection = await session.get(Connection, connection_id)
            if connection is None or not connection.may_call_rakuten:
                return "inactive"
            started = utcnow()
            if not force and connection.next_import_at is not None and connection.next_import_at > started:
                return "not_due"
            outcome = await _import(rt, session, connection)
            log.info("import_done", connection_id=connection_id, outcome=outcome)
            return outcome


async def _import(rt: Runtime, session: AsyncSession, connection: Connection) -> str:
    interval = rt.settings.import_interval_seconds
    now = utcnow()
    rakuten = rt.rakuten(connection)
    to_check: list[str] = []
    try:
        sales = await rakuten.get_new_sales()
        recorded = await record_sales(session, connection.id, sales, now)
        await session.commit()
        # Most polls find nothing new and nothing pending: one look spares the detailed queries.
        pending = await _pending_states(session, connection.id)
        if OrderState.IMPORTED in pending:
            to_check += await read_vanished_sales(session, rakuten, connection, now)
        last_scan = connection.last_sales_scan_at
        if last_scan is None or utcnow() - last_scan >= timedelta(seconds=interval):
            to_check += await scan_current_sales(session, rakuten, connection)
    except RakutenCredentialsError:
        await _reset(session, connection)
        await mark_credentials_invalid(session, connection, RAKUTEN_REFUSED)
        return "credentials_invalid"
    except RakutenQuotaExceeded as exc:
        await _reset(session, connection)
        connection.next_import_at = exc.retry_at + timedelta(seconds=random.uniform(5, 60))  # noqa: S311
        connection.last_import_error = (
            f"Rakuten's hourly request quota is used up; the next import is at {exc.retry_at:%H:%M} UTC."
        )
        await session.commit()
        return "quota"
    except RakutenError as exc:
        await _reset(session, connection)
        connection.import_failures += 1
        connection.next_import_at = retry_after_failure(utcnow(), connection.import_failures, interval)
        connection.last_import_error = f"Rakuten could not be read: {exc}"
        await session.commit()
        return "rakuten_error"
    try:
        if recorded.to_import or OrderState.IMPORTING in pending:
            await create_parcels(rt, connection)
    except CubynAuthError:
        await mark_credentials_invalid(session, connection, CUBYN_REFUSED)
        return "credentials_invalid"
    await rt.queue.enqueue_many(
        [("check_order", order_id, f"order:{order_id}:{now.timestamp()}") for order_id in dict.fromkeys(to_check)]
    )
    # One UPDATE, so a concurrent change of the connection (paused, new token) is not overwritten.
    await session.execute(
        update(Connection)
        .where(Connection.id == connection.id)
        .values(
            last_import_at=now,
            last_import_error=None,
            import_failures=0,
            next_import_at=next_import_at(connection.id, utcnow(), interval),
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return f"ok: {len(sales)} sale(s), {len(recorded.to_import)} new, {recorded.skipped} skipped"


async def _pending_states(session: AsyncSession, connection_id: str) -> set[OrderState]:
    """Which of `importing` (parcel to create) and `imported` (maybe cancelled on Rakuten) the shop has."""
    rows = await session.scalars(
        select(Order.state)
        .where(
            Order.connection_id == connection_id,
            Order.state.in_((OrderState.IMPORTING.value, OrderState.IMPORTED.value)),
        )
        .distinct()
    )
    return {OrderState(state) for state in rows}


async def _reset(session: AsyncSession, connection: Connection) -> None:
    """Drop what the failed step had not committed and read the connection again (it expired)."""
    await session.rollback()
    await session.refresh(connection)


async def create_parcels(rt: Runtime, connection: Connection) -> None:
    """Every importing order of the connection that is due gets its parcel, a few at a time."""
    async with rt.sessions() as session:
        order_ids = (
            await session.scalars(
                select(Order.id)
                .where(
                    Order.connection_id == connection.id,
                    Order.state == OrderState.IMPORTING.value,
                    (Order.attempts == 0) | (Order.next_check_at <= utcnow()),
                )
                .order_by(Order.imported_at)
            )
        ).all()
    gate = asyncio.Semaphore(PARCEL_CONCURRENCY)

    async def one(order_id: str) -> None:
        async with gate:
            await with_order(rt, order_id, ensure_parcel)

    results = await asyncio.gather(*(one(order_id) for order_id in order_ids), return_exceptions=True)
    for result in results:
        if isinstance(result, CubynAuthError):
            raise result
        if isinstance(result, BaseException):
            log.warning("parcel_creation_failed", connection_id=connection.id, error=type(result).__name__)
