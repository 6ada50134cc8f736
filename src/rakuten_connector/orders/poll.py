"""The poll of one connection: read getnewsales, record the sales as orders, create their parcels, and
look for what Rakuten changed on the orders already imported.

One worker at a time per connection polls it (the import lease, a database lease on the connection row,
which also says whether the connection has orders to look at). Under it:
1. `recording.record_sales` writes the sales getnewsales lists as orders, RECORD_CHUNK purchases at a time,
   each part committed before Cubyn is called for it;
2. `parcel_creation.parcel_batches` gives each part's new orders their parcels in batches of orders leased
   together, while the next part is recorded; then the orders an earlier poll left without one get theirs;
3. `rakuten_cancellations` reads what Rakuten says of the orders already imported (vanished sales, and a
   getcurrentsales scan once per import interval); the orders it changed get a `check_order` job.
The poll's own bookkeeping (next poll, failures, last error) is written by the statement that gives the
lease back. The scheduler (`scheduler.schedule_imports`) queues the due connections in batches.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Exists, exists, or_, select

from rakuten_connector.clients.cubyn import CubynAuthError
from rakuten_connector.clients.rakuten import (
    RakutenCredentialsError,
    RakutenError,
    RakutenQuotaExceeded,
)
from rakuten_connector.clients.rakuten_models import Sale
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.connections.scheduling import next_import_at, retry_after_failure
from rakuten_connector.connections.service import Upstream, credentials_refused
from rakuten_connector.kit import leases
from rakuten_connector.kit.backoff import spread_after
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import is_database_unavailable
from rakuten_connector.orders.jobs import check_order_job
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.parcel_creation import parcel_batches
from rakuten_connector.orders.rakuten_cancellations import OPEN_STATES, read_vanished_sales, scan_current_sales
from rakuten_connector.orders.recording import Recorded, purchase_chunks, record_sales
from rakuten_connector.runtime import Runtime

log = structlog.get_logger(__name__)

# Purchases of a getnewsales answer recorded and committed together (their parcels are created meanwhile).
RECORD_CHUNK = 128


async def import_connections(rt: Runtime, connection_ids: list[str]) -> dict[str, int]:
    """A batch queued by the scheduler: every import runs on its own, at most IMPORT_CONCURRENCY of the
    process at once, so one shop's trouble (a slow Rakuten, an error) never holds back the others.

    An import that fails unexpectedly is logged; its connection stays claimed until the claim runs out,
    then the scheduler queues it again (a backoff of a few minutes). When the database was unavailable,
    the first such error is raised once every import has ended, so the job is retried (the imports that
    went through are not due any more and cost one statement). Returns outcome counts.
    """
    unavailable: list[Exception] = []

    async def one(connection_id: str) -> str:
        async with rt.import_gate:
            try:
                return await import_connection(rt, connection_id)
            except leases.LeaseLost:
                return "lease_lost"  # another worker took the import over
            except Exception as exc:
                if is_database_unavailable(exc):
                    unavailable.append(exc)
                    return "database_unavailable"
                log.exception("import_failed", connection_id=connection_id)
                return "failed"

    outcomes = await asyncio.gather(*(one(connection_id) for connection_id in connection_ids))
    if unavailable:
        raise unavailable[0]
    return dict(Counter(outcome.split(":")[0] for outcome in outcomes))


def _has_orders(*states: str) -> Exists:
    """Whether the leased connection has orders in these states, read with the lease: most polls find
    nothing new and no order to look at, and then cost no other query."""
    orders = Order.__table__.c
    # `state = a OR state = b`, not `IN`: an IN list is rendered again at every execution of the statement.
    return exists().where(orders.connection_id == leases.ROW, or_(*(orders.state == state for state in states)))


_connections = Connection.__table__.c
IMPORT_LEASE = leases.Lease(
    Connection,
    # Active and unpaused, and due: checked by the statement that takes the lease.
    when=[
        _connections.state == ConnectionState.ACTIVE.value,
        _connections.paused.is_(False),
        or_(_connections.next_import_at.is_(None), _connections.next_import_at <= leases.NOW),
    ],
    columns=[
        _connections.seller_id,
        _connections.rakuten_token_enc,
        _connections.last_sales_scan_at,
        _connections.import_failures,
        _has_orders(OrderState.IMPORTING.value).label("importing"),
        _has_orders(OrderState.IMPORTED.value).label("imported"),
        _has_orders(*OPEN_STATES).label("open"),
    ],
)


async def import_connection(rt: Runtime, connection_id: str) -> str:
    """Run one import if the connection is due; returns what happened (for logs and tests)."""
    structlog.contextvars.bind_contextvars(connection_id=connection_id)
    lease = timedelta(seconds=rt.settings.lease_seconds)
    async with IMPORT_LEASE.held(rt.engine, connection_id, rt.owner, lease) as hold:
        if hold is None:
            return "not taken: busy, not due or not active"
        outcome = await _import(rt, hold)
        log.info("import_done", connection_id=connection_id, outcome=outcome)
        return outcome


async def _import(rt: Runtime, hold: leases.Hold) -> str:
    """The import under the connection's lease; its bookkeeping is written as the lease is released,
    in one UPDATE of its own columns, so a concurrent change (paused, new token) is not overwritten."""
    connection_id, row = hold.row_id, hold.row
    interval = rt.settings.import_interval_seconds
    now = utcnow()
    rakuten = rt.rakuten(row)
    to_check: list[str] = []
    done: dict[str, Any] = {}
    try:
        sales = await rakuten.get_new_sales()
    except RakutenError as exc:
        return await _rakuten_failed(rt, hold, exc)
    try:
        recorded = await _record_and_create(rt, connection_id, sales, now)
        if row.importing:
            await create_parcels(rt, connection_id)  # the orders an earlier import left without a parcel
    except (CubynAuthError, RakutenCredentialsError):  # already written on the connection (`parcel_batches`)
        return "credentials_invalid"
    try:
        async with rt.sessions() as session:
            if row.imported:
                to_check += await read_vanished_sales(session, rakuten, connection_id, now)
            last_scan = row.last_sales_scan_at
            if row.open and (last_scan is None or utcnow() - last_scan >= timedelta(seconds=interval)):
                to_check += await scan_current_sales(session, rakuten, connection_id)
                done["last_sales_scan_at"] = utcnow()
    except RakutenError as exc:
        return await _rakuten_failed(rt, hold, exc)
    hold.check()  # what follows is written on behalf of the lease: not if another worker took it over
    await rt.queue.send(check_order_job(order_id, now) for order_id in dict.fromkeys(to_check))
    await hold.release(
        last_import_at=now,
        last_import_error=None,
        import_failures=0,
        next_import_at=next_import_at(connection_id, utcnow(), interval),
        import_queued_until=None,
        **done,
    )
    return f"ok: {len(sales)} sale(s), {len(recorded.to_import)} new, {recorded.skipped} skipped" + (
        f", {recorded.already_imported} already_imported" if recorded.already_imported else ""
    )


async def _rakuten_failed(rt: Runtime, hold: leases.Hold, exc: RakutenError) -> str:
    """Rakuten could not be read: credentials refused, quota used up (next hour), or a failure (backoff)."""
    connection_id, row = hold.row_id, hold.row
    if isinstance(exc, RakutenCredentialsError):
        await _credentials_refused(rt, connection_id, "rakuten")
        return "credentials_invalid"
    if isinstance(exc, RakutenQuotaExceeded):
        await hold.release(
            next_import_at=spread_after(exc.retry_at),
            last_import_error=(
                f"Rakuten's hourly request quota is used up; the next import is at {exc.retry_at:%H:%M} UTC."
            ),
            import_queued_until=None,
        )
        return "quota"
    failures = row.import_failures + 1
    await hold.release(
        import_failures=failures,
        next_import_at=retry_after_failure(utcnow(), failures, rt.settings.import_backoff),
        last_import_error=f"Rakuten could not be read: {exc}",
        import_queued_until=None,
    )
    return "rakuten_error"


async def _credentials_refused(rt: Runtime, connection_id: str, upstream: Upstream) -> None:
    async with rt.sessions() as session:
        connection = await session.get(Connection, connection_id)
        if connection is not None:
            await credentials_refused(session, connection, upstream)


async def _record_and_create(rt: Runtime, connection_id: str, sales: list[Sale], now: datetime) -> Recorded:
    """Record the answer RECORD_CHUNK purchases at a time, each part committed, then given to the parcel
    batches at once: Cubyn is called for the first orders while the next ones are being recorded."""
    recorded = Recorded()
    async with parcel_batches(rt, connection_id) as create:
        for chunk in purchase_chunks(sales, RECORD_CHUNK):
            async with rt.sessions() as session:
                part = await record_sales(session, connection_id, chunk, now)
                await session.commit()
            part.count()
            recorded.add(part)
            create(part.to_import)
    return recorded


async def create_parcels(rt: Runtime, connection_id: str) -> None:
    """Every importing order of the connection that is due gets its parcel (`parcel_batches`)."""
    async with rt.sessions() as session:
        order_ids = list(
            await session.scalars(
                select(Order.id)
                .where(
                    Order.connection_id == connection_id,
                    Order.state == OrderState.IMPORTING.value,
                    (Order.attempts == 0) | (Order.next_check_at <= utcnow()),
                )
                .order_by(Order.imported_at)
            )
        )
    # No order lease is taken once the connection's lease is lost (LeaseLost ends the import).
    async with parcel_batches(rt, connection_id) as create:
        create(order_ids)
