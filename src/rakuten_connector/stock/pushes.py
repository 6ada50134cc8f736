"""Coalesced stock files: per connection, at most one file in flight, at most one per
`STOCK_PUSH_MIN_INTERVAL_SECONDS` and 10 per hour, each carrying the latest quantity of every changed SKU.

One run of `run_stock` does what is due for a connection, under its stock lease: settle a file a dead worker
left behind, read the report of the file in flight, then send the next file when the limits allow. The file
is written down (with its SKUs) before the upload and marked uploaded after it. A file whose fate is unknown
(a crash in between leaves it `preparing`; a lost answer leaves it without an import id; a report that does
not come in time) is in doubt: its SKUs go in the next file (quantities are absolute, so sending them again
is safe), and that file waits until the doubtful one is settled. One file in flight at a time also means
Rakuten never applies an older file after a newer one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.rakuten import (
    RakutenAnswerLost,
    RakutenCredentialsError,
    RakutenError,
    RakutenPermanentError,
    RakutenQuotaExceeded,
)
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.service import credentials_refused
from rakuten_connector.db import retry_deadlocks
from rakuten_connector.kit import leases
from rakuten_connector.kit.backoff import spread_after
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.stock import files
from rakuten_connector.stock.files import apply_report, free_skus, next_file_at, prepare_file, record_upload
from rakuten_connector.stock.jobs import enqueue_stock_run, enqueue_sync_run
from rakuten_connector.stock.models import (
    ACTIVE_SYNC,
    IN_FLIGHT,
    FileStatus,
    StockFile,
    StockItem,
    StockState,
    StockStatus,
    StockSync,
    SyncPhase,
)
from rakuten_connector.stock.rules import PublishingRules
from rakuten_connector.stock.scheduling import can_push

log = structlog.get_logger(__name__)

REPORT_TIMEOUT = timedelta(hours=2)
IN_DOUBT_TIMEOUT = timedelta(hours=24)  # then the file is taken as never to be applied
IN_DOUBT_POLL = 300.0


class StockRun:
    """One run for one connection; holds the session, the connection and its state row."""

    def __init__(self, rt: Runtime, session: AsyncSession, connection: Connection, state: StockState) -> None:
        self.rt, self.session, self.connection, self.state = rt, session, connection, state
        self.connection_id = connection.id
        self.scheduled = False

    def backoff(self) -> timedelta:
        """The wait after the connection's latest run of failures (`state.failures`)."""
        return self.rt.settings.stock_backoff.delay(self.state.failures)

    async def reload(self) -> None:
        await self.session.refresh(self.state)
        await self.session.refresh(self.connection)

    async def schedule(self, at: datetime) -> None:
        self.state.next_run_at = at
        self.scheduled = True
        await self.session.commit()
        await enqueue_stock_run(self.rt, self.connection_id, at)

    async def block(self, until: datetime, error: str) -> None:
        """No Rakuten stock call for this connection before `until`."""
        self.state.blocked_until = until
        self.state.last_error = error
        await self.schedule(until)

    async def end_file(self, file: StockFile, status: FileStatus, error: str) -> None:
        """The file will not be read (any more): its SKUs are free again, still pending (next file)."""
        files.end(self.session, file, status)
        file.error = error
        file.processed_at = utcnow()
        await free_skus(self.session, file.id)
        await self.session.commit()

    async def credentials_refused(self) -> str:
        await credentials_refused(self.session, self.connection, "rakuten")
        return "credentials_invalid"

    # -- the file in flight -------------------------------------------------------------------------------

    async def settle_in_flight(self) -> str | None:
        """Settle the file in flight, if any; None when the next file may be considered."""
        file = await self.session.scalar(
            select(StockFile)
            .where(StockFile.connection_id == self.connection_id, StockFile.status.in_(IN_FLIGHT))
            .order_by(StockFile.created_at.desc())
            .limit(1)
        )
        if file is None:
            return None
        now = utcnow()
        if file.import_id is None:
            return await self.settle_unknown_upload(file, now)
        if file.next_poll_at is not None and file.next_poll_at > now:
            await self.schedule(file.next_poll_at)
            return "waiting_report"
        try:
            report = await self.rt.rakuten(self.connection).get_import_report(file.import_id)
        except RakutenCredentialsError:
            return await self.credentials_refused()
        except RakutenQuotaExceeded as exc:
            await self.block(
                spread_after(exc.retry_at), "Rakuten's hourly quota is used up; stock waits for the next hour."
            )
            return "quota"
        except RakutenPermanentError as exc:
            await self.end_file(file, FileStatus.EXPIRED, f"Rakuten does not know this import any more: {exc}")
            return None
        except RakutenError as exc:
            self.state.failures += 1
            await self.block(now + self.backoff(), f"Rakuten's import report could not be read: {exc}")
            return "report_error"
        if not report.processed:
            return await self.still_processing(file, now)
        if file.status == FileStatus.IN_DOUBT:
            # Applied late: its SKUs, freed when it went in doubt, are pending again for the next file (which
            # says what Rakuten thinks of each again).
            refused = sum(not product.ok for product in report.products)
            log.info(
                "stock_file_processed_late", connection_id=self.connection_id, file_id=file.id, refused=refused
            )
            files.end(self.session, file, FileStatus.PROCESSED)
            file.processed_at = now
            file.error = "Rakuten processed this file late; its SKUs go again in the next file."
            await self.session.commit()
            return None
        file_id, sku_count = file.id, file.sku_count
        await retry_deadlocks(
            lambda: apply_report(self.session, file_id, sku_count, report), self.session, self.reload
        )
        await self.wake_syncs()
        return None

    async def doubt(self, file: StockFile, error: str) -> None:
        """The file may still be applied by Rakuten: its SKUs are freed for the next file (which carries their
        current quantities), and that next file waits until this one is settled."""
        file.status = FileStatus.IN_DOUBT.value
        file.error = error
        await free_skus(self.session, file.id)
        log.warning("stock_file_in_doubt", connection_id=self.connection_id, file_id=file.id, reason=error)

    async def settle_unknown_upload(self, file: StockFile, now: datetime) -> str | None:
        """A file that may or may not have reached Rakuten, with no import id to read its report by: a worker
        died during its upload (only the lease holder writes files, so a `preparing` file here is a dead
        worker's) or Rakuten's answer was lost. The next file waits out the hold, the time Rakuten takes to
        apply a file, so that this one cannot be applied after it."""
        if file.status == FileStatus.PREPARING:
            file.uploaded_at = file.created_at  # at the latest, the upload began then
            await self.doubt(file, "The upload was interrupted; Rakuten may have taken the file.")
        hold = timedelta(seconds=self.rt.settings.stock_lost_upload_hold_seconds)
        until = (file.uploaded_at or file.created_at) + hold
        if until > now:
            await self.schedule(until)  # commits
            return "in_doubt"
        await self.end_file(
            file, FileStatus.ABANDONED, "The upload's outcome is unknown; its SKUs went again in the next file."
        )
        return None

    async def still_processing(self, file: StockFile, now: datetime) -> str | None:
        """A file Rakuten has not processed yet. Past the report timeout it goes in doubt: its SKUs are freed
        for the next file, which waits until this one's report is final (or until Rakuten forgot it)."""
        waited = now - (file.uploaded_at or now)
        if file.status == FileStatus.UPLOADED and waited > REPORT_TIMEOUT:
            await self.doubt(
                file, "Rakuten did not process the file in time; its report is read before the next file."
            )
        elif file.status == FileStatus.IN_DOUBT and waited > IN_DOUBT_TIMEOUT:
            await self.end_file(file, FileStatus.EXPIRED, "Rakuten never processed the file; it is given up.")
            return None
        poll = IN_DOUBT_POLL if file.status == FileStatus.IN_DOUBT else self.rt.settings.stock_report_poll_seconds
        file.next_poll_at = now + timedelta(seconds=poll)
        await self.schedule(file.next_poll_at)  # commits
        return "in_doubt" if file.status == FileStatus.IN_DOUBT else "waiting_report"

    async def wake_syncs(self) -> None:
        sync_ids = (
            await self.session.scalars(
                select(StockSync.id).where(
                    StockSync.connection_id == self.connection_id,
                    StockSync.status.in_(ACTIVE_SYNC),
                    StockSync.phase == SyncPhase.PUSHING.value,
                )
            )
        ).all()
        for sync_id in sync_ids:
            await enqueue_sync_run(self.rt, sync_id, utcnow())

    # -- the next file --------------------------------------------------------------------------------------

    async def send_next(self) -> str:
        pending = await self.session.scalar(
            select(
                exists().where(
                    StockItem.connection_id == self.connection_id,
                    StockItem.status == StockStatus.PENDING.value,
                    StockItem.file_id.is_(None),
                )
            )
        )
        if not pending:
            return "idle"
        now = utcnow()
        interval = timedelta(seconds=self.rt.settings.stock_push_min_interval_seconds)
        due = await next_file_at(self.session, self.connection_id, interval, now)
        if due > now:
            await self.schedule(due)
            return "waiting_interval"
        max_skus = self.rt.settings.stock_file_max_skus
        file_id = await retry_deadlocks(
            lambda: prepare_file(self.session, self.connection_id, max_skus, PublishingRules.of(self.connection)),
            self.session,
            self.reload,
        )
        rows = await self.session.execute(
            select(StockItem.sku, StockItem.sent_quantity).where(StockItem.file_id == file_id)
        )
        quantities = {sku: quantity or 0 for sku, quantity in rows}
        try:
            result = await self.rt.rakuten(self.connection).upload_stock(quantities)
        except RakutenError as exc:
            return await self.upload_failed(file_id, exc)
        count = len(quantities)
        del quantities
        await record_upload(
            self.session, file_id, result.import_id, count, self.rt.settings.stock_report_poll_seconds
        )
        self.state.failures = 0
        self.state.last_error = None
        self.state.blocked_until = None
        await self.schedule(utcnow() + timedelta(seconds=self.rt.settings.stock_report_poll_seconds))
        log.info("stock_file_uploaded", connection_id=self.connection_id, file_id=file_id, skus=count)
        return f"uploaded {count}"

    async def upload_failed(self, file_id: str, exc: RakutenError) -> str:
        file = await self.session.get_one(StockFile, file_id)
        if isinstance(exc, RakutenAnswerLost):
            file.uploaded_at = utcnow()
            await self.doubt(
                file, f"Rakuten's answer to the upload was lost ({exc}); it may still apply the file."
            )
            self.state.failures += 1
            self.state.last_error = "A stock upload's outcome is unknown; the next file waits until it is settled."
            hold = timedelta(seconds=self.rt.settings.stock_lost_upload_hold_seconds)
            await self.schedule(file.uploaded_at + max(hold, self.backoff()))  # commits
            return "answer_lost"
        await self.end_file(file, FileStatus.FAILED, f"Rakuten refused the upload: {exc}")
        if isinstance(exc, RakutenCredentialsError):
            return await self.credentials_refused()
        if isinstance(exc, RakutenQuotaExceeded):
            await self.block(
                spread_after(exc.retry_at), "Rakuten's hourly quota is used up; stock waits for the next hour."
            )
            return "quota"
        self.state.failures += 1
        log.warning("stock_upload_failed", connection_id=self.connection_id, error=type(exc).__name__)
        await self.block(utcnow() + self.backoff(), f"The stock file could not be sent: {exc}")
        return "upload_failed"


async def run_stock(rt: Runtime, connection_id: str) -> str:
    """Do what is due for the connection's stock; returns what happened (for logs and tests)."""
    structlog.contextvars.bind_contextvars(connection_id=connection_id)
    lease = timedelta(seconds=rt.settings.lease_seconds)
    async with leases.held(rt.engine, StockState, connection_id, rt.owner, lease) as mine:
        if not mine:
            return "busy"
        async with rt.sessions() as session:
            state = await session.get(StockState, connection_id)
            if state is None:
                return "nothing to do"
            # Watchdog: if this run dies, the tick runs the connection again after this.
            watchdog = utcnow() + 2 * lease
            state.next_run_at = watchdog
            await session.commit()
            connection = await session.get(Connection, connection_id)
            run = StockRun(rt, session, connection, state) if connection is not None else None
            if run is None or not can_push(connection):
                outcome = "inactive"
            elif state.blocked_until is not None and state.blocked_until > utcnow():
                await run.schedule(state.blocked_until)
                outcome = "blocked"
            else:
                outcome = await run.settle_in_flight() or await run.send_next()
            if run is None or not run.scheduled:
                # Nothing planned: clear the watchdog, unless a change touched the state meanwhile.
                await session.execute(
                    update(StockState)
                    .where(StockState.id == connection_id, StockState.next_run_at == watchdog)
                    .values(next_run_at=None)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
            return outcome
