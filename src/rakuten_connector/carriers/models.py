"""A connection's own carrier choices: a Rakuten shipping type -> what Cubyn does with its sales."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rakuten_connector.db import Base, UTCDateTime
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.mapping.carriers import SHIPPING_TYPE_MAX


class CarrierChoice(Base):
    __tablename__ = "carrier_choices"

    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    # The shipping type's comparison key (normalized: see mapping.carriers.normalize_shipping_type).
    shipping_key: Mapped[str] = mapped_column(String(SHIPPING_TYPE_MAX), primary_key=True)
    shipping_type: Mapped[str] = mapped_column(String(SHIPPING_TYPE_MAX))  # as the merchant wrote it
    choice: Mapped[str] = mapped_column(String(32))  # a CarrierChoiceValue
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
