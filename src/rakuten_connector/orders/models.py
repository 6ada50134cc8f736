"""Orders: one row per Rakuten purchase a connection saw (imported or skipped), its items and timeline."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from rakuten_connector.db import Base, UTCDateTime
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.leases import LeaseColumns
from rakuten_connector.mapping.carriers import SHIPPING_TYPE_MAX
from rakuten_connector.mapping.parcels import order_ref
from rakuten_connector.mapping.statuses import OrderState

__all__ = [
    "ITEM_ID_MAX",
    "PURCHASE_ID_MAX",
    "SKU_MAX",
    "Order",
    "OrderEvent",
    "OrderItem",
    "OrderState",
]

# Identifiers that come from Rakuten are stored whole or not at all (see orders.recording); labels we
# only show are clipped to their column.
PURCHASE_ID_MAX = 64
ITEM_ID_MAX = 64
SKU_MAX = 255
STATUS_MAX = 64


def clip(value: str | None, limit: int) -> str | None:
    return None if value is None else value[:limit]


# Its lease locks the order: one worker at a time acts on it on Rakuten.
class Order(LeaseColumns, Base):
    __tablename__ = "orders"
    __table_args__ = (
        # One Rakuten purchase gives a connection at most one order, hence at most one parcel (a later
        # connection of the same seller records it as already imported: see orders.recording).
        UniqueConstraint("connection_id", "purchase_id"),
        Index("ix_orders_connection_state", "connection_id", "state"),
        Index("ix_orders_connection_imported", "connection_id", "imported_at", "id"),
        # The operators' list across connections, newest first (all, or in one state).
        Index("ix_orders_imported", "imported_at", "id"),
        Index("ix_orders_state_imported", "state", "imported_at", "id"),
        # The shipping types a connection has seen (its carrier table), read without its orders' rows.
        Index("ix_orders_connection_shipping_type", "connection_id", "shipping_type"),
        Index("ix_orders_next_check", "next_check_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    purchase_id: Mapped[str] = mapped_column(String(PURCHASE_ID_MAX))
    state: Mapped[str] = mapped_column(String(32))
    # Why skipped / failed / needs attention, in words a merchant understands.
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    shipping_type: Mapped[str | None] = mapped_column(String(SHIPPING_TYPE_MAX), default=None)
    delivery_mode: Mapped[str | None] = mapped_column(String(32), default=None)
    parcel_id: Mapped[str | None] = mapped_column(String(64), default=None)
    tracking_id: Mapped[str | None] = mapped_column(String(64), default=None)
    parcel_status: Mapped[str | None] = mapped_column(String(STATUS_MAX), default=None)
    # Watermark: the newest parcel `updatedAt` applied; older events change nothing.
    parcel_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The create-parcel body (JSON), kept so a crash or a retry can finish the import from the database.
    parcel_request: Mapped[str | None] = mapped_column(Text, default=None)
    purchased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Last time getnewsales listed the sale: gone from it before acceptance means "check on Rakuten". None
    # once its items were read after it left getnewsales (read once per disappearance).
    rakuten_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When the sweep should look at this order again (None: nothing pending).
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Since when Cubyn's stock check has failed for the parcel (None: it has not, or no longer).
    stock_failed_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.item_id", lazy="raise"
    )

    @validates("shipping_type", "parcel_status")
    def _clip_label(self, key: str, value: str | None) -> str | None:
        return clip(value, SHIPPING_TYPE_MAX if key == "shipping_type" else STATUS_MAX)

    @property
    def order_ref(self) -> str:
        return order_ref(self.purchase_id)


class OrderItem(Base):
    """One Rakuten item (one unit) and what the connector did with it on Rakuten."""

    __tablename__ = "order_items"
    __table_args__ = (UniqueConstraint("order_id", "item_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    item_id: Mapped[str] = mapped_column(String(ITEM_ID_MAX))
    sku: Mapped[str] = mapped_column(String(SKU_MAX))  # the Rakuten SKU
    # The SKU the parcel carries at Cubyn when a SKU mapping renamed it (None: the Rakuten SKU itself).
    cubyn_sku: Mapped[str | None] = mapped_column(String(SKU_MAX), default=None)
    rakuten_status: Mapped[str] = mapped_column(String(STATUS_MAX))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    tracking_pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    order: Mapped[Order] = relationship(back_populates="items", lazy="raise")

    @validates("rakuten_status")
    def _clip_status(self, _: str, value: str) -> str:
        return value[:STATUS_MAX]


class OrderEvent(Base):
    """The order's timeline: every transition, with what happened and why."""

    __tablename__ = "order_events"
    __table_args__ = (Index("ix_order_events_order", "order_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
