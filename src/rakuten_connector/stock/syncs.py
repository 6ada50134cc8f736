"""A full reconciliation ("Synch my stock with Rakuten"), as a resumable state machine.

Phases: read Rakuten's export and Cubyn's catalogue (both streamed, written to `stock_sync_entries` in
batches: memory stays flat), compare in SQL, then let the coalesced pushes carry every SKU whose quantity
differs (as few files as the limits allow, split above `STOCK_FILE_MAX_SKUS`) until the reports are in.
Reading is `sync_reading`, comparing `sync_comparison`. Every step is written down; a run that dies is picked up again by the tick (`next_run_at` is a watchdog).
Reading restarts from the beginning (Rakuten's page tokens do not survive); after `RETRY_STOCK_SYNC_MAX_ATTEMPTS`
interrupted readings the sync ends `failed` with the reason.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import and_, delete, func, select
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
from rakuten_connector.db import retry_deadlocks
from rakuten_connector.kit import leases
from rakuten_connector.kit.backoff import spread_after
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.stock.follows import sync_after_mapping
from rakuten_connector.stock.jobs import enqueue_stock_run, enqueue_sync_run
from rakuten_connector.stock.models import (
    StockItem,
    StockSync,
    StockSyncEntry,
    SyncPhase,
    SyncStatus,
)
from rakuten_connector.stock.scheduling import can_push, why_not_pushing
from rakuten_connector.stock.service import followed_from_rakuten
from rakuten_connector.stock.sync_comparison import compare
from rakuten_connector.stock.sync_reading import read_cubyn, read_rakuten

log = structlog.get_logger(__name__)

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
            structlog.contextvars.bind_contextvars(connection_id=sync.connection_id, sync_id=sync_id)
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
    # The sync's row first: a mapping change holding it commits before this goes on (see stock.follows).
    await session.flush()
    # Only the one-side SKUs are kept (they are the answer's lists); the counts are on the sync. A Cubyn SKU
    # some Rakuten SKU follows is not one-sided, whichever other spellings follow it.
    entry = StockSyncEntry
    await session.execute(
        delete(entry).where(
            entry.sync_id == sync.id,
            entry.on_cubyn,
            ~entry.on_rakuten,
            func.coalesce(entry.follows, entry.sku).in_(followed_from_rakuten(sync.id)),
        )
    )
    await session.execute(
        delete(StockSyncEntry).where(
            StockSyncEntry.sync_id == sync.id, StockSyncEntry.on_rakuten, StockSyncEntry.on_cubyn
        )
    )
    await sync_after_mapping(session, sync)
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
