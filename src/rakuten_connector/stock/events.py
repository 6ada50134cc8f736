"""Cubyn `stock.updated` events set the wanted Rakuten quantity of the SKUs that follow their Cubyn SKU
(the Rakuten SKU of the same spelling, and those a SKU mapping sells as it).

The newest event `timestamp` per SKU wins; an older one changes nothing; two events with the same timestamp
keep the lower quantity (never oversell). Events are applied in batches taken with SKIP LOCKED (PostgreSQL),
so racing jobs share the work instead of repeating it; applying one twice is harmless anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import structlog
from pydantic import ValidationError
from sqlalchemy import and_, case, or_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.db import insert_for, retry_deadlocks
from rakuten_connector.kit.clock import as_utc, utcnow
from rakuten_connector.kit.errors import refuses_values
from rakuten_connector.runtime import Runtime
from rakuten_connector.skus import service as skus
from rakuten_connector.stock.jobs import enqueue_stock_run
from rakuten_connector.stock.models import StockItem, StockStatus
from rakuten_connector.stock.scheduling import touch_state
from rakuten_connector.webhooks.models import EventStatus
from rakuten_connector.webhooks.schemas import STOCK_UPDATED, StockUpdated
from rakuten_connector.webhooks.service import finish_events, pending_events

log = structlog.get_logger(__name__)

BATCH = 500
REFUSED = "the database refused its values"
UNREADABLE = "unreadable stock event: a value that cannot be applied"


@dataclass(frozen=True, slots=True)
class Wanted:
    sku: str
    quantity: int
    at: datetime
    cubyn_sku: str | None = None  # set when a SKU mapping makes the Rakuten SKU `sku` follow another one


async def for_followers(session: AsyncSession, connection_id: str, winners: Mapping[str, Wanted]) -> list[Wanted]:
    """Cubyn's quantities (per Cubyn SKU) -> the Rakuten SKUs that follow them (see skus.service)."""
    followers = await skus.followers(session, connection_id, winners.keys())
    return [
        replace(wanted, sku=rakuten_sku, cubyn_sku=None if rakuten_sku == cubyn_sku else cubyn_sku)
        for cubyn_sku, wanted in winners.items()
        for rakuten_sku in followers[cubyn_sku]
    ]


def newest_per_sku(events: Iterable[Wanted]) -> dict[str, Wanted]:
    """The event that wins for each SKU: the newest timestamp; on a tie, the lower quantity."""
    winners: dict[str, Wanted] = {}
    for event in events:
        best = winners.get(event.sku)
        if best is None or event.at > best.at or (event.at == best.at and event.quantity < best.quantity):
            winners[event.sku] = event
    return winners


async def set_wanted(
    session: AsyncSession, connection_id: str, wanted: Sequence[Wanted], *, over_newer: bool = False
) -> None:
    """Upsert the wanted quantities, each only over an older watermark (one statement, race-free); with
    `over_newer`, whatever the watermark (a SKU that now follows another Cubyn SKU takes that one's)."""
    if not wanted:
        return
    table = StockItem.__table__
    now = utcnow()
    rows = [
        {
            "connection_id": connection_id,
            "sku": w.sku,
            "cubyn_sku": w.cubyn_sku,
            "wanted_quantity": w.quantity,
            "wanted_at": as_utc(w.at),
            "version": 1,
            "pushed_version": 0,
            "status": StockStatus.PENDING.value,
            "updated_at": now,
        }
        # Sorted: every writer locks SKU rows in the same order (no deadlock between batches).
        for w in sorted(wanted, key=lambda w: w.sku)
    ]
    statement = insert_for(session, table)
    new = statement.excluded
    changed = table.c.wanted_quantity != new.wanted_quantity
    newer = or_(
        table.c.wanted_at.is_(None),
        table.c.wanted_at < new.wanted_at,
        and_(table.c.wanted_at == new.wanted_at, new.wanted_quantity < table.c.wanted_quantity),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["connection_id", "sku"],
        set_={
            "cubyn_sku": new.cubyn_sku,
            "wanted_quantity": new.wanted_quantity,
            "wanted_at": new.wanted_at,
            "version": case((changed, table.c.version + 1), else_=table.c.version),
            "status": case((changed, StockStatus.PENDING.value), else_=table.c.status),
            "updated_at": new.updated_at,
        },
        where=None if over_newer else newer,
    )
    for start in range(0, len(rows), BATCH):  # executemany: the statement is compiled once, then cached
        await session.execute(statement, rows[start : start + BATCH])


def read_event(payload: str) -> Wanted | str:
    """The wanted quantity an event asks for, or why it cannot be applied (the route refuses such events;
    one stored before that rule, or written by hand, still must not stop the others)."""
    try:
        event = StockUpdated.model_validate_json(payload)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        return f"{UNREADABLE} ({fields})"
    return Wanted(event.data.sku, event.data.available, event.timestamp)


async def _apply_batch(rt: Runtime, connection_id: str, limit: int = BATCH) -> int:
    """Apply up to `limit` pending events; returns how many were taken. A value the database refuses
    (past every check) sends the batch through one event at a time, so that only that event fails."""
    async with rt.sessions() as session:
        rows = await pending_events(session, connection_id, STOCK_UPDATED, limit)
        if not rows:
            return 0
        read = {event_id: read_event(payload) for event_id, payload in rows}
        wanted = {event_id: w for event_id, w in read.items() if isinstance(w, Wanted)}
        failed = {event_id: why for event_id, why in read.items() if isinstance(why, str)}
        try:
            winners = newest_per_sku(wanted.values())
            await set_wanted(session, connection_id, await for_followers(session, connection_id, winners))
        except (DBAPIError, OverflowError) as exc:
            if not refuses_values(exc):
                raise
            await session.rollback()
            if limit > 1:
                return await _apply_one_at_a_time(rt, connection_id, len(rows))
            wanted, failed = {}, {rows[0][0]: REFUSED}
        for event_id, why in failed.items():
            log.warning("stock_event_failed", connection_id=connection_id, event_id=event_id, reason=why)
        await finish_events(session, dict.fromkeys(wanted), EventStatus.PROCESSED)
        await finish_events(session, dict(failed), EventStatus.FAILED)
        await touch_state(session, connection_id, utcnow())
        await session.commit()
        return len(rows)


async def _apply_one_at_a_time(rt: Runtime, connection_id: str, count: int) -> int:
    taken = 0
    for _ in range(count):
        if not await _apply_batch(rt, connection_id, 1):
            break
        taken += 1
    return taken


async def apply_pending(rt: Runtime, connection_id: str) -> int:
    """Apply every pending stock event of the connection; returns how many were taken."""
    total = 0
    while True:
        taken = await retry_deadlocks(lambda: _apply_batch(rt, connection_id))
        total += taken
        if taken < BATCH:
            break
    if total:
        await enqueue_stock_run(rt, connection_id, utcnow())
        log.debug("stock_events_applied", connection_id=connection_id, events=total)
    return total
