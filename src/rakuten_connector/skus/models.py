"""A connection's SKU mappings: Rakuten SKU -> Cubyn SKU, compared exactly (SKUs are case-sensitive)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from rakuten_connector.db import Base, UTCDateTime
from rakuten_connector.kit.clock import utcnow

SKU_MAX = 255


class SkuMapping(Base):
    __tablename__ = "sku_mappings"
    # Several Rakuten SKUs may follow one Cubyn SKU: stock events look them up by Cubyn SKU.
    __table_args__ = (Index("ix_sku_mappings_connection_cubyn", "connection_id", "cubyn_sku"),)

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    rakuten_sku: Mapped[str] = mapped_column(String(SKU_MAX), primary_key=True)
    cubyn_sku: Mapped[str] = mapped_column(String(SKU_MAX))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
