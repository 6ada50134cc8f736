"""Stock tables: the wanted and pushed quantity of every SKU, the files sent to Rakuten, the full syncs.

A SKU needs pushing while `version > pushed_version` (status `pending`): every change of the wanted quantity
bumps `version`; a processed import report sets `pushed_version` to the version the file carried. A file
being sent marks its SKUs with `file_id` and what it carried (`sent_quantity`, `sent_version`), so a SKU
that changes while the file is in flight keeps a higher version and goes in the next file.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from rakuten_connector.db import Base, UTCDateTime
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.leases import LeaseColumns


class StockStatus(StrEnum):
    PENDING = "pending"  # Rakuten does not have the wanted quantity yet (waiting or in flight)
    PUSHED = "pushed"  # Rakuten has the wanted quantity (pushed, or found equal by a full sync)
    REJECTED = "rejected"  # Rakuten refused the SKU; not pushed again until its quantity changes
    UNKNOWN_ON_RAKUTEN = "unknown_on_rakuten"  # refused: no Rakuten offer has the SKU (same rule)


class FileStatus(StrEnum):
    PREPARING = "preparing"  # written down, maybe being uploaded
    UPLOADED = "uploaded"  # Rakuten gave an import id: its report is read until processed
    PROCESSED = "processed"  # the report was applied to the SKUs
    CANCELLED = "cancelled"  # Rakuten cancelled the file (Annulé): its SKUs go in the next file
    FAILED = "failed"  # the upload failed: its SKUs go in the next file
    ABANDONED = "abandoned"  # a worker died around the upload: its SKUs go in the next file
    EXPIRED = "expired"  # Rakuten never finished it: its SKUs go in the next file
    # Rakuten took the file but has not said what became of it in time: it may still be applied, so its
    # report is read before any next file is sent (an older quantity never overwrites a newer one).
    IN_DOUBT = "in_doubt"


IN_FLIGHT = (FileStatus.PREPARING.value, FileStatus.UPLOADED.value, FileStatus.IN_DOUBT.value)


class SyncStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncPhase(StrEnum):
    READING_RAKUTEN = "reading_rakuten"
    READING_CUBYN = "reading_cubyn"
    COMPARING = "comparing"
    PUSHING = "pushing"
    DONE = "done"


ACTIVE_SYNC = (SyncStatus.QUEUED.value, SyncStatus.RUNNING.value)


class StockState(LeaseColumns, Base):
    """Per connection: when its stock job runs next, its errors, its nightly sync, and its stock lease (one
    worker at a time builds, sends and reads the connection's stock files)."""

    __tablename__ = "stock_states"
    __table_args__ = (Index("ix_stock_states_next_run", "next_run_at"),)

    # The connection's id: one row per connection.
    id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # No Rakuten stock call before this (quota used up, or backing off after failures).
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    next_full_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class StockItem(Base):
    __tablename__ = "stock_items"
    __table_args__ = (
        UniqueConstraint("connection_id", "sku"),
        Index("ix_stock_items_connection_status_sku", "connection_id", "status", "sku"),
        Index("ix_stock_items_file", "file_id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(255))  # the Rakuten SKU
    # The Cubyn SKU whose quantity it follows when a SKU mapping says so (None: the same SKU).
    cubyn_sku: Mapped[str | None] = mapped_column(String(255), default=None)
    wanted_quantity: Mapped[int] = mapped_column(Integer)
    # Watermark: the newest event timestamp (or full-sync catalogue read) applied; older events change nothing.
    wanted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    pushed_version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default=StockStatus.PENDING.value)
    # Rakuten's reason when the last report rejected the SKU (None when it accepted it).
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    pushed_quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The file in flight that carries the SKU, and what it carries.
    file_id: Mapped[str | None] = mapped_column(String(36), default=None)
    sent_quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    sent_version: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class StockFile(Base):
    """One genericimportfile upload (or attempt) and what became of it."""

    __tablename__ = "stock_files"
    __table_args__ = (Index("ix_stock_files_connection_created", "connection_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=FileStatus.PREPARING.value)
    import_id: Mapped[str | None] = mapped_column(String(64), default=None)
    sku_count: Mapped[int] = mapped_column(Integer, default=0)
    pushed_count: Mapped[int | None] = mapped_column(Integer, default=None)
    rejected_count: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class StockSync(LeaseColumns, Base):
    """A full reconciliation ("Synch my stock with Rakuten", or the nightly one)."""

    __tablename__ = "stock_syncs"
    __table_args__ = (
        # One queued or running sync per connection (a queued one counts as running).
        Index(
            "uq_stock_syncs_active_connection",
            "connection_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'running')"),
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
        Index("ix_stock_syncs_status_next_run", "status", "next_run_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=SyncStatus.QUEUED.value)
    phase: Mapped[str] = mapped_column(String(32), default=SyncPhase.READING_RAKUTEN.value)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")
    rakuten_skus: Mapped[int] = mapped_column(Integer, default=0)
    cubyn_skus: Mapped[int] = mapped_column(Integer, default=0)
    compared: Mapped[int] = mapped_column(Integer, default=0)
    to_update: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Reading attempts: a worker that dies while reading leaves one more; too many ends the sync failed.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the catalogue read began: catalogue quantities are as of then (newer events win over them).
    catalog_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class StockSyncEntry(Base):
    """One SKU seen by a sync, on either side. Kept for SKUs on one side only once the sync is over."""

    __tablename__ = "stock_sync_entries"

    sync_id: Mapped[str] = mapped_column(ForeignKey("stock_syncs.id", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(255), primary_key=True)
    on_rakuten: Mapped[bool] = mapped_column(Boolean, default=False)
    rakuten_quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    # On Rakuten: the Cubyn SKU a mapping makes it follow, when not the same string.
    follows: Mapped[str | None] = mapped_column(String(255), default=None)
    on_cubyn: Mapped[bool] = mapped_column(Boolean, default=False)
    cubyn_quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    # The SKU's version the sync needs pushed (None: nothing to push for it).
    push_version: Mapped[int | None] = mapped_column(Integer, default=None)
