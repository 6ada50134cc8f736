"""A full reconciliation ("Synch my stock with Rakuten"), as a resumable state machine.

Phases: read Rakuten's export and Cubyn's catalogue (both streamed, written to `stock_sync_entries` in
batches: memory stays flat), compare in SQL, then let the coalesced pushes carry every SKU whose quantity
differs (as few files as the limits allow, split above `STOCK_FILE_MAX_SKUS`) until the reports are in.
Every step is written down; a run that dies is picked up again by the tick (`next_run_at` is a watchdog).
Reading restarts from the beginning (Rakuten's page tokens do not survive); after `RETRY_STOCK_SYNC_MAX_ATTEMPTS`
interrupted readings the sync ends `failed` with the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, case, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.cubyn import CubynAuthError, CubynError, CubynTransientError
from rakuten_connector.clients.rakuten import (
    RakutenCredentialsError,
    RakutenError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.service import credentials_refused
from rakuten_connector.db import insert_for, retry_deadlocks
from rakuten_connector.kit import leases
from rakuten_connector.kit.backoff import spread_after
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.stock.jobs import enqueue_stock_run, enqueue_sync_run
from rakuten_connector.stock.models import (
    StockItem,
    StockStatus,
    StockSync,
    StockSyncEntry,
    SyncPhase,
    SyncStatus,
)
from rakuten_connector.stock.scheduling import can_push, touch_state, why_not_pushing

log = structlog.get_logger(__name__)

BATCH = 2000
PUSH_CHECK = timedelta(seconds=30)
PUSH_TIMEOUT = timedelta(hours=48)
READING = (SyncPhase.READING_RAKUTEN.value, SyncPhase.READING_CUBYN.value)


async def run_sync(rt: Runtime, sync_id: str) -> str:
    lease = timedelta(seconds=rt.settings.lease_seconds)
    async with leases.held(rt.engine, StockSync, sync_id, rt.owner, lease) as mine:
        if not mine:
            return "busy"
        async with rt.sessions() as session:
            sync = await session.get(StockSync, sync_id)
            if sync is None or sync.status not in (SyncStatus.QUEUED, SyncStatus.RUNNING):
                return "nothing to do"
            connection = await session.get(Connection, sync.connection_id)
            if connection is None or not can_push(connection):
                await finish(session, sync, SyncStatus.FAILED, why_not_pushing(connection))
                return "failed"
            now = utcnow()
            if sync.status == SyncStatus.QUEUED:
                sync.status = SyncStatus.RUNNING.value
                sync.started_at = now
            # Watchdog: if this run dies, the tick runs the sync again after this.
            sync.next_run_at = now + lease
            await session.commit()
            if sync.phase in READING:
                outcome = await _read_both(rt, session, connection, sync)
                if outcome is not None:
                    return outcome
            if sync.phase == SyncPhase.COMPARING:
                skew = timedelta(seconds=rt.settings.stock_clock_skew_seconds)
                await retry_deadlocks(lambda: compare(session, sync, skew), session, lambda: session.refresh(sync))
                await enqueue_stock_run(rt, sync.connection_id, utcnow())
            return await _check_pushes(rt, session, sync)


async def finish(session: AsyncSession, sync: StockSync, status: SyncStatus, error: str | None = None) -> None:
    sync.status = status.value
    sync.error = error
    sync.finished_at = utcnow()
    sync.next_run_at = None
    if status is SyncStatus.SUCCEEDED:
        sync.phase = SyncPhase.DONE.value
    # Only the one-side SKUs are kept (they are the answer's lists); the counts are on the sync.
    await session.execute(
        delete(StockSyncEntry).where(
            StockSyncEntry.sync_id == sync.id, StockSyncEntry.on_rakuten, StockSyncEntry.on_cubyn
        )
    )
    await session.commit()
    log.info("stock_sync_finished", sync_id=sync.id, status=status.value, error=error)


async def _read_both(rt: Runtime, session: AsyncSession, connection: Connection, sync: StockSync) -> str | None:
    sync.attempts += 1
    policy = rt.settings.stock_backoff
    if policy.exhausted(sync.attempts - 1):  # this attempt would be one too many
        reason = sync.error or "The sync was interrupted too many times."
        await finish(session, sync, SyncStatus.FAILED, f"Gave up after {policy.max_attempts} attempts: {reason}")
        return "failed"
    await session.commit()
    try:
        await read_rakuten(rt, session, connection, sync)
        await read_cubyn(rt, session, connection, sync)
    except RakutenCredentialsError:
        await finish(session, sync, SyncStatus.FAILED, await credentials_refused(session, connection, "rakuten"))
        return "failed"
    except CubynAuthError:
        await finish(session, sync, SyncStatus.FAILED, await credentials_refused(session, connection, "cubyn"))
        return "failed"
    except RakutenQuotaExceeded as exc:
        # Not the sync's fault: this attempt does not count.
        return await _retry_later(
            rt, session, sync, spread_after(exc.retry_at), f"Rakuten quota: {exc}", counts=False
        )
    except (RakutenTransientError, CubynTransientError) as exc:
        at = utcnow() + rt.settings.stock_backoff.delay(sync.attempts)
        return await _retry_later(rt, session, sync, at, f"Temporary error while reading: {exc}", counts=True)
    except (RakutenError, CubynError) as exc:
        await finish(session, sync, SyncStatus.FAILED, f"The inventory could not be read: {exc}")
        return "failed"
    return None


async def _retry_later(
    rt: Runtime, session: AsyncSession, sync: StockSync, at: datetime, reason: str, *, counts: bool
) -> str:
    await session.rollback()
    await session.refresh(sync)
    if not counts:
        sync.attempts -= 1
    sync.phase = SyncPhase.READING_RAKUTEN.value
    sync.error = reason
    sync.next_run_at = at
    await session.commit()
    await enqueue_sync_run(rt, sync.id, at)
    return "retry_later"


async def _start_reading(session: AsyncSession, sync: StockSync, phase: SyncPhase, watchdog: timedelta) -> None:
    sync.phase = phase.value
    sync.next_run_at = utcnow() + watchdog
    await session.commit()


async def read_rakuten(rt: Runtime, session: AsyncSession, connection: Connection, sync: StockSync) -> None:
    """Rakuten's whole inventory, streamed page after page, written in batches (first SKU spelling wins)."""
    watchdog = timedelta(seconds=2 * rt.settings.lease_seconds)
    await session.execute(delete(StockSyncEntry).where(StockSyncEntry.sync_id == sync.id))
    sync.rakuten_skus = sync.cubyn_skus = sync.compared = sync.to_update = sync.updated = 0
    await _start_reading(session, sync, SyncPhase.READING_RAKUTEN, watchdog)
    batch: dict[str, int | None] = {}
    async for advert in rt.rakuten(connection).iter_export():
        if advert.sku and advert.sku not in batch:
            batch[advert.sku] = advert.stock
        if len(batch) >= BATCH:
            await _write_rakuten(session, sync, batch, watchdog)
            batch = {}
    await _write_rakuten(session, sync, batch, watchdog)
    sync.rakuten_skus = await _count(session, sync.id, StockSyncEntry.on_rakuten)
    await session.commit()


async def _write_rakuten(
    session: AsyncSession, sync: StockSync, batch: dict[str, int | None], watchdog: timedelta
) -> None:
    if batch:
        rows = [
            {"sync_id": sync.id, "sku": sku, "on_rakuten": True, "rakuten_quantity": quantity, "on_cubyn": False}
            for sku, quantity in batch.items()
        ]
        statement = insert_for(session, StockSyncEntry.__table__).on_conflict_do_nothing(
            index_elements=["sync_id", "sku"]
        )
        await session.execute(statement, rows)  # executemany: compiled once, not once per batch
        sync.rakuten_skus += len(rows)
    sync.next_run_at = utcnow() + watchdog
    await session.commit()


async def read_cubyn(rt: Runtime, session: AsyncSession, connection: Connection, sync: StockSync) -> None:
    """Cubyn's whole catalogue, every page. Its quantities are as of when the reading began."""
    watchdog = timedelta(seconds=2 * rt.settings.lease_seconds)
    sync.catalog_read_at = utcnow()
    await _start_reading(session, sync, SyncPhase.READING_CUBYN, watchdog)
    batch: dict[str, int] = {}
    async for product in rt.cubyn(connection).iter_catalog():
        if product.sku:
            batch[product.sku] = max(0, product.stock.available)
        if len(batch) >= BATCH:
            await _write_cubyn(session, sync, batch, watchdog)
            batch = {}
    await _write_cubyn(session, sync, batch, watchdog)
    sync.cubyn_skus = await _count(session, sync.id, StockSyncEntry.on_cubyn)
    sync.phase = SyncPhase.COMPARING.value
    await session.commit()


async def _write_cubyn(session: AsyncSession, sync: StockSync, batch: dict[str, int], watchdog: timedelta) -> None:
    if batch:
        rows = [
            {"sync_id": sync.id, "sku": sku, "on_rakuten": False, "on_cubyn": True, "cubyn_quantity": quantity}
            for sku, quantity in batch.items()
        ]
        statement = insert_for(session, StockSyncEntry.__table__)
        statement = statement.on_conflict_do_update(
            index_elements=["sync_id", "sku"],
            set_={"on_cubyn": True, "cubyn_quantity": statement.excluded.cubyn_quantity},
        )
        await session.execute(statement, rows)
        sync.cubyn_skus += len(rows)
    sync.next_run_at = utcnow() + watchdog
    await session.commit()


async def _count(session: AsyncSession, sync_id: str, *conditions: Any) -> int:
    query = select(func.count()).select_from(StockSyncEntry).where(StockSyncEntry.sync_id == sync_id, *conditions)
    return int(await session.scalar(query) or 0)


def _on_both_sides(sync: StockSync) -> tuple[ColumnElement[bool], ...]:
    """The sync's entries found on Rakuten and on Cubyn."""
    entry = StockSyncEntry
    return (entry.sync_id == sync.id, entry.on_rakuten.is_(True), entry.on_cubyn.is_(True))


def _with_their_items(sync: StockSync) -> tuple[ColumnElement[bool], ...]:
    """Those entries, each with the SKU row it is about."""
    return (
        *_on_both_sides(sync),
        StockItem.connection_id == sync.connection_id,
        StockItem.sku == StockSyncEntry.sku,
    )


async def _fold_catalogue(
    session: AsyncSession, sync: StockSync, read_at: datetime, skew: timedelta, now: datetime
) -> None:
    entry, item = StockSyncEntry, StockItem
    changed = item.wanted_quantity != entry.cubyn_quantity
    # The catalogue is newer than what older events said: it replaces them.
    await session.execute(
        update(item)
        .where(*_with_their_items(sync), (item.wanted_at.is_(None)) | (item.wanted_at < read_at))
        .values(
            wanted_quantity=entry.cubyn_quantity,
            wanted_at=read_at,
            version=case((changed, item.version + 1), else_=item.version),
            status=case((changed, StockStatus.PENDING.value), else_=item.status),
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    # Events too close to the read to tell which came first: the lower quantity wins, the event's time stays.
    await session.execute(
        update(item)
        .where(
            *_with_their_items(sync),
            item.wanted_at >= read_at,
            item.wanted_at <= read_at + 2 * skew,
            entry.cubyn_quantity < item.wanted_quantity,
        )
        .values(
            wanted_quantity=entry.cubyn_quantity,
            version=item.version + 1,
            status=StockStatus.PENDING.value,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )


async def compare(session: AsyncSession, sync: StockSync, skew: timedelta) -> None:
    """Fold the sync into the SKUs (set-based SQL): catalogue quantities replace older wanted quantities,
    SKUs that differ from Rakuten become pending, equal ones are settled; the SKUs to push are noted.

    The read time is the connector's clock and event times are Cubyn's: within `skew` of the read, which
    came first is unknown, so the lower quantity wins (never oversell) and a later event still wins."""
    read_at = (sync.catalog_read_at or utcnow()) - skew
    now = utcnow()
    await _insert_new_skus(session, sync, read_at, now)
    await _fold_catalogue(session, sync, read_at, skew, now)
    await _settle_against_rakuten(session, sync, now)
    entry = StockSyncEntry
    sync.compared = await _count(session, sync.id, entry.on_rakuten, entry.on_cubyn)
    sync.to_update = await _count(session, sync.id, entry.push_version.is_not(None))
    sync.phase = SyncPhase.PUSHING.value
    await touch_state(session, sync.connection_id, now)
    await session.commit()
    log.info("stock_sync_compared", sync_id=sync.id, compared=sync.compared, to_update=sync.to_update)


async def _insert_new_skus(session: AsyncSession, sync: StockSync, read_at: datetime, now: datetime) -> None:
    """SKUs never seen before: wanted = Cubyn's quantity as of the read."""
    entry, item = StockSyncEntry, StockItem
    columns = [
        "connection_id",
        "sku",
        "wanted_quantity",
        "wanted_at",
        "version",
        "pushed_version",
        "status",
        "updated_at",
    ]
    rows = select(
        literal(sync.connection_id, item.connection_id.type),
        entry.sku,
        entry.cubyn_quantity,
        literal(read_at, item.wanted_at.type),
        literal(1),
        literal(0),
        literal(StockStatus.PENDING.value, item.status.type),
        literal(now, item.updated_at.type),
    ).where(*_on_both_sides(sync))
    statement = insert_for(session, item.__table__).from_select(columns, rows)
    await session.execute(statement.on_conflict_do_nothing(index_elements=["connection_id", "sku"]))


async def _settle_against_rakuten(session: AsyncSession, sync: StockSync, now: datetime) -> None:
    """Compare each SKU's wanted quantity with what the sync read on Rakuten, and note what to wait for."""
    entry, item = StockSyncEntry, StockItem
    matched = _with_their_items(sync)
    differs = entry.rakuten_quantity.is_distinct_from(item.wanted_quantity)
    # Different on Rakuten and settled (pushed, or rejected: the sync found it on Rakuten): push again.
    await session.execute(
        update(item)
        .where(*matched, item.version == item.pushed_version, differs)
        .values(version=item.version + 1, status=StockStatus.PENDING.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    # Equal on Rakuten and not in a file: nothing to push.
    await session.execute(
        update(item)
        .where(
            *matched,
            item.file_id.is_(None),
            entry.rakuten_quantity == item.wanted_quantity,
            (item.status != StockStatus.PUSHED.value) | (item.pushed_version != item.version),
        )
        .values(pushed_version=item.version, status=StockStatus.PUSHED.value, reason=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    # What this sync waits for: each differing SKU's version reaching Rakuten.
    await session.execute(
        update(entry)
        .where(*matched, differs)
        .values(push_version=item.version)
        .execution_options(synchronize_session=False)
    )


async def _check_pushes(rt: Runtime, session: AsyncSession, sync: StockSync) -> str:
    """Done when every differing SKU's version was covered by a processed report."""
    entry, item = StockSyncEntry, StockItem
    joined = (
        select(func.count())
        .select_from(entry)
        .join(item, and_(item.connection_id == sync.connection_id, item.sku == entry.sku))
        .where(entry.sync_id == sync.id, entry.push_version.is_not(None))
    )
    remaining = int(await session.scalar(joined.where(item.pushed_version < entry.push_version)) or 0)
    sync.updated = int(
        await session.scalar(joined.where(item.pushed_version >= entry.push_version, item.reason.is_(None))) or 0
    )
    now = utcnow()
    if remaining == 0:
        await finish(session, sync, SyncStatus.SUCCEEDED)
        return "succeeded"
    if sync.started_at is not None and now - sync.started_at > PUSH_TIMEOUT:
        await finish(session, sync, SyncStatus.FAILED, f"{remaining} SKU(s) could not be sent to Rakuten in time.")
        return "failed"
    sync.next_run_at = now + PUSH_CHECK
    await session.commit()
    return f"pushing: {remaining} left"
