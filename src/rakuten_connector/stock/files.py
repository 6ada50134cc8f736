"""A stock file's rows: when the next one may leave, which SKUs it takes, its upload, and its report folded
back into the SKUs (pushed, rejected with Rakuten's reason, or pending again)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import structlog
from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.clients.rakuten_models import ImportReport, ProductReport, normalize_label
from rakuten_connector.kit.after_commit import after_commit
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.metrics.families import STOCK_FILE_SKUS, STOCK_FILES
from rakuten_connector.stock.models import FileStatus, StockFile, StockItem, StockStatus
from rakuten_connector.stock.rules import PublishingRules

log = structlog.get_logger(__name__)

FILES_PER_HOUR = 10


async def next_file_at(session: AsyncSession, connection_id: str, interval: timedelta, now: datetime) -> datetime:
    """The earliest time the next file may leave: the minimum interval, and 10 files in any hour (every
    attempt counts: a failed upload may still have reached Rakuten)."""
    recent = (
        await session.scalars(
            select(StockFile.created_at)
            .where(StockFile.connection_id == connection_id, StockFile.created_at > now - timedelta(hours=1))
            .order_by(StockFile.created_at.desc())
            .limit(FILES_PER_HOUR)
        )
    ).all()
    due = now
    if recent:
        due = max(due, recent[0] + interval)
    if len(recent) >= FILES_PER_HOUR:
        due = max(due, recent[-1] + timedelta(hours=1))
    return due


async def prepare_file(session: AsyncSession, connection_id: str, max_skus: int, rules: PublishingRules) -> str:
    """Write the file down with its SKUs (in SKU order) and the quantity each carries (the wanted quantity
    under the connection's publishing rules) before anything leaves; returns its id."""
    file = StockFile(connection_id=connection_id, status=FileStatus.PREPARING.value, created_at=utcnow())
    session.add(file)
    await session.flush()
    chosen = (
        select(StockItem.id)
        .where(
            StockItem.connection_id == connection_id,
            StockItem.status == StockStatus.PENDING.value,
            StockItem.file_id.is_(None),
        )
        .order_by(StockItem.sku)
        .limit(max_skus)
    )
    result = await session.execute(
        update(StockItem)
        .where(StockItem.id.in_(chosen.scalar_subquery()))
        .values(
            file_id=file.id,
            sent_quantity=rules.published_sql(StockItem.wanted_quantity),
            sent_version=StockItem.version,
        )
        .execution_options(synchronize_session=False)
    )
    file.sku_count = int(getattr(result, "rowcount", 0) or 0)
    await session.commit()
    return file.id


def end(session: AsyncSession, file: StockFile, status: FileStatus) -> None:
    """The file's final status (counted once committed)."""
    file.status = status.value
    after_commit(session, STOCK_FILES.labels(status.value).inc)


async def record_upload(
    session: AsyncSession, file_id: str, import_id: str, sku_count: int, poll_seconds: float
) -> None:
    """The bookkeeping right after the upload (a crash before it is what `ABANDONED` covers)."""
    now = utcnow()
    await session.execute(
        update(StockFile)
        .where(StockFile.id == file_id)
        .values(
            status=FileStatus.UPLOADED.value,
            import_id=import_id,
            uploaded_at=now,
            next_poll_at=now + timedelta(seconds=poll_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    STOCK_FILE_SKUS.observe(sku_count)


async def free_skus(session: AsyncSession, file_id: str) -> None:
    """The file will not be read (any more): its SKUs are free again, still pending (next file)."""
    await session.execute(
        update(StockItem)
        .where(StockItem.file_id == file_id)
        .values(file_id=None, sent_quantity=None, sent_version=None)
        .execution_options(synchronize_session=False)
    )


NO_OFFER_REASON = "Unknown on Rakuten: no offer has this SKU. Create the offer on Rakuten, or map the SKU."


def refusal(product: ProductReport) -> tuple[str, str]:
    """The status and the reason a SKU Rakuten refused keeps: an unknown SKU is told apart."""
    if product.no_offer:
        return StockStatus.UNKNOWN_ON_RAKUTEN.value, NO_OFFER_REASON
    reasons = "; ".join(e.text or e.code for e in product.errors) or f"Rakuten status {product.status}"
    return StockStatus.REJECTED.value, reasons


async def _mark_rejected(session: AsyncSession, file_id: str, report: ImportReport, now: datetime) -> None:
    """The SKUs Rakuten refused keep its reason; one changed since the file was built stays pending."""
    rejected = {product.sku: refusal(product) for product in report.products if not product.ok}
    if not rejected:
        return
    items = cast(Table, StockItem.__table__)
    settled = items.c.version <= items.c.sent_version
    await session.execute(
        update(items)
        .where(items.c.file_id == file_id, items.c.sku == bindparam("b_sku"))
        .values(
            pushed_version=items.c.sent_version,
            status=case((settled, bindparam("b_status")), else_=StockStatus.PENDING.value),
            reason=bindparam("b_reason"),
            file_id=None,
            sent_quantity=None,
            sent_version=None,
            updated_at=now,
        ),
        [
            {"b_sku": sku, "b_status": status, "b_reason": reason}
            for sku, (status, reason) in sorted(rejected.items())
        ],
    )


async def apply_report(session: AsyncSession, file_id: str, sku_count: int, report: ImportReport) -> None:
    """Each SKU of the file is marked pushed or rejected with Rakuten's reason; a SKU changed since the file
    was built stays pending (it goes in the next file)."""
    file = await session.get_one(StockFile, file_id)
    now = utcnow()
    if normalize_label(report.file_status) == "annulé":
        end(session, file, FileStatus.CANCELLED)
        file.error = "Rakuten cancelled the file; its SKUs go in the next file."
        file.processed_at = now
        await free_skus(session, file_id)
        await session.commit()
        return
    items = cast(Table, StockItem.__table__)
    settled = items.c.version <= items.c.sent_version
    await _mark_rejected(session, file_id, report, now)
    # Every other SKU of the file was taken (one missing from the report counts as taken: Rakuten
    # processed the file and reported no error for it).
    result = await session.execute(
        update(items)
        .where(items.c.file_id == file_id)
        .values(
            pushed_version=items.c.sent_version,
            pushed_quantity=items.c.sent_quantity,
            pushed_at=now,
            status=case((settled, StockStatus.PUSHED.value), else_=StockStatus.PENDING.value),
            reason=None,
            file_id=None,
            sent_quantity=None,
            sent_version=None,
            updated_at=now,
        )
    )
    pushed = int(getattr(result, "rowcount", 0) or 0)
    end(session, file, FileStatus.PROCESSED)
    file.processed_at = now
    file.pushed_count = pushed
    file.rejected_count = sku_count - pushed
    await session.commit()
    log.info("stock_file_processed", file_id=file_id, pushed=pushed, rejected=sku_count - pushed)
