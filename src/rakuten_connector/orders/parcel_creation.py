"""Create an order's Cubyn parcel exactly once: the step after `recording` wrote the order down.

The poll runs it for the new orders of its connection, in batches (`ensure_parcels`: leased, read and
written together, the Cubyn calls PARCEL_CONCURRENCY at a time, two commits per batch), and `check` for an
order whose creation did not finish (a crash, a transient Cubyn error, a retry asked by the merchant), each
time under the orders' leases. Once the parcel is known the order is `imported`; a parcel Cubyn already
validated or moved on is applied at once (`progress`).

The order row (state `importing`, with its request) is committed before Cubyn is called. Every call
carries `Idempotency-Key: RAKUTEN-<purchaseid>`; a 409 names the parcel this orderRef already has and the
order adopts it; after an attempt whose outcome is unknown (timeout, crash), the parcel is first looked up
by orderRef. So retries, crashes and racing workers never make a second parcel.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn import (
    CubynAuthError,
    CubynClient,
    CubynError,
    CubynInvalidFields,
    CubynPermanentError,
    CubynTransientError,
)
from rakuten_connector.clients.cubyn_models import Parcel, ParcelRequest
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit import leases
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.orders.order_lease import with_orders
from rakuten_connector.orders.progress import RECHECK_AFTER, apply_parcel
from rakuten_connector.orders.service import transition
from rakuten_connector.runtime import Runtime

log = structlog.get_logger(__name__)

# Cubyn calls of one import (or of one batch) at once.
PARCEL_CONCURRENCY = 8
# Orders whose parcels one statement leases and one commit writes; batches of one import at once.
PARCEL_BATCH = 64
BATCHES_IN_FLIGHT = 2


@dataclass
class _Attempt:
    """One order's try: the parcel it got (and how), or the Cubyn error it met."""

    order: Order
    request: ParcelRequest
    parcel: Parcel | None = None
    how: str = ""
    error: CubynError | None = None


@asynccontextmanager
async def parcel_batches(rt: Runtime, connection_id: str) -> AsyncIterator[Callable[[Sequence[str]], None]]:
    """The poll's parcel creations: orders handed to the function it yields get their parcels in batches of
    PARCEL_BATCH (each leased, read and written together, `with_orders`), BATCHES_IN_FLIGHT batches at once
    sharing one gate of PARCEL_CONCURRENCY Cubyn calls. While one batch waits for Cubyn the next one is
    leased and written down, and the caller goes on meanwhile (recording the next sales).

    Leaving waits for every batch. A batch that fails (LeaseLost, the database, Cubyn or Rakuten refusing
    the connection's credentials, which is written down on the connection first) is not cancelled in the
    middle of its statements nor does it cancel the others: the batches not started yet are skipped, and
    its error is raised once the running ones have ended."""
    calls = asyncio.Semaphore(PARCEL_CONCURRENCY)
    in_flight = asyncio.Semaphore(BATCHES_IN_FLIGHT)
    tasks: list[asyncio.Task[None]] = []
    failures: list[Exception] = []

    async def batch(order_ids: Sequence[str]) -> None:
        async with in_flight:
            if failures:
                return
            try:
                leases.check_current()  # no order lease is taken once the import's lease is lost
                step = functools.partial(ensure_parcels, calls=calls)
                refusal = await with_orders(rt, connection_id, order_ids, step)
                if refusal is not None:
                    failures.append(refusal)
            except Exception as exc:
                failures.append(exc)

    def add(order_ids: Sequence[str]) -> None:
        for start in range(0, len(order_ids), PARCEL_BATCH):
            tasks.append(asyncio.create_task(batch(order_ids[start : start + PARCEL_BATCH])))

    try:
        yield add
    finally:
        await asyncio.gather(*tasks)
    for other in failures[1:]:  # raised: the first; the others are said, not lost
        log.warning("parcel_batch_failed", connection_id=connection_id, error=type(other).__name__)
    if failures:
        raise failures[0]


async def ensure_parcel(rt: Runtime, session: AsyncSession, connection: Connection, order: Order) -> None:
    """Give an `importing` order its parcel (or a clear failure). Commits; raises CubynAuthError upward."""
    await ensure_parcels(rt, session, connection, [order])


async def ensure_parcels(
    rt: Runtime,
    session: AsyncSession,
    connection: Connection,
    orders: Sequence[Order],
    *,
    calls: asyncio.Semaphore | None = None,
) -> None:
    """Give each `importing` order its parcel (or a clear failure); the others are left alone. Commits
    twice: the attempts before Cubyn is called, the outcomes after. Cubyn refusing the key raises
    CubynAuthError once the other outcomes are written down. `calls` bounds the Cubyn calls in flight
    (shared by the batches of one import; PARCEL_CONCURRENCY of this call's own by default)."""
    attempts = [
        _Attempt(order, ParcelRequest.model_validate_json(order.parcel_request))
        for order in orders
        if order.state == OrderState.IMPORTING and order.parcel_request is not None
    ]
    if not attempts:
        return
    cubyn = rt.cubyn(connection)
    gate = calls or asyncio.Semaphore(PARCEL_CONCURRENCY)

    async def look_up(attempt: _Attempt) -> None:
        # A previous attempt may have created it before we could write it down.
        async with gate:
            attempt.parcel = await cubyn.find_parcel(attempt.order.order_ref)
        attempt.how = "found by its orderRef and adopted"

    async def create(attempt: _Attempt) -> None:
        async with gate:
            await _create(cubyn, attempt)

    await _each(look_up, [a for a in attempts if a.order.attempts > 0])
    to_create = [a for a in attempts if a.parcel is None and a.error is None]
    for attempt in to_create:
        attempt.order.attempts += 1
        attempt.order.next_check_at = utcnow() + rt.settings.order_backoff.delay(attempt.order.attempts)
    if to_create:
        await session.commit()  # an unknown outcome from here on means "look it up first"
    await _each(create, to_create)
    for attempt in attempts:
        _record(rt, session, attempt)
    await session.commit()
    for attempt in attempts:
        if attempt.parcel is not None and (attempt.parcel.is_validated or attempt.parcel.status != "CREATED"):
            await apply_parcel(rt, session, connection, attempt.order, attempt.parcel)
    refused = next((a.error for a in attempts if isinstance(a.error, CubynAuthError)), None)
    if refused is not None:
        raise refused


async def _create(cubyn: CubynClient, attempt: _Attempt) -> None:
    created = await cubyn.create_parcel(attempt.request, idempotency_key=attempt.order.order_ref)
    attempt.parcel = created.parcel or await cubyn.get_parcel(created.parcel_id)
    attempt.how = "created" if created.created else "already existed and was adopted"


async def _each(call: Callable[[_Attempt], Awaitable[None]], attempts: Sequence[_Attempt]) -> None:
    """`call` on every attempt at once; a Cubyn error is the attempt's, anything else stops them all."""

    async def one(attempt: _Attempt) -> None:
        try:
            await call(attempt)
        except CubynError as exc:
            attempt.error = exc

    try:
        async with asyncio.TaskGroup() as group:
            for attempt in attempts:
                group.create_task(one(attempt))
    except BaseExceptionGroup as failed:  # LeaseLost, a bug: raised as itself, the other calls cancelled
        raise failed.exceptions[0] from None


def _record(rt: Runtime, session: AsyncSession, attempt: _Attempt) -> None:
    """Write an attempt's outcome on its order (not committed)."""
    order, parcel, error = attempt.order, attempt.parcel, attempt.error
    if isinstance(error, CubynInvalidFields):
        fields = ", ".join(f"{e.field} ({e.message})" if e.message else e.field for e in error.errors)
        _fail(
            session,
            order,
            f"Cubyn refused the parcel: invalid {fields or 'fields'}. Fix the data, then retry the order.",
        )
    elif isinstance(error, CubynTransientError):
        order.last_error = str(error)
        if rt.settings.order_backoff.exhausted(order.attempts):
            _fail(session, order, "Cubyn did not answer after many attempts. Retry the order once Cubyn is back.")
    elif isinstance(error, CubynPermanentError):
        _fail(session, order, f"Cubyn refused the parcel ({error.message}). Retry the order once fixed.")
    elif parcel is not None and error is None:
        order.parcel_id = parcel.id
        order.tracking_id = parcel.tracking_id
        order.parcel_status = parcel.status
        order.last_error = None
        order.attempts = 0
        order.next_check_at = utcnow() + RECHECK_AFTER[OrderState.IMPORTED]
        transition(
            session, order, OrderState.IMPORTED, "imported", f"Cubyn parcel {parcel.tracking_id} {attempt.how}."
        )


def _fail(session: AsyncSession, order: Order, reason: str) -> None:
    transition(session, order, OrderState.FAILED, "failed", reason, reason=reason)
    order.next_check_at = None
