"""Orders: one row per Rakuten purchase seen by a connection (imported or skipped)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rakuten_connector.db import Base, UTCDateTime
from rakuten_connector.kit.clock import utcnow


class OrderState(StrEnum):
    SKIPPED = "skipped"
    IMPORTING = "importing"
    IMPORTED = "imported"
    ACCEPTED = "accepted"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        # Invariant 1: one Rakuten purchase gives at most one order, hence at most one parcel.
        UniqueConstraint("connection_id", "purchase_id"),
        Index("ix_orders_connection_state", "connection_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    purchase_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    shipping_type: Mapped[str | None] = mapped_column(String(128), default=None)
    delivery_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    parcel_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tracking_id: Mapped[str | None] = mapped_column(String(64), default=None)
    purchased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
