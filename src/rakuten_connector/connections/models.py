"""A merchant's Rakuten shop linked to its Cubyn application."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, String, Text, text
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from rakuten_connector.db import Base, UTCDateTime
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.leases import LeaseColumns


class ConnectionState(StrEnum):
    """What is stored; the status shown also says `paused` (see `Connection.status`)."""

    ACTIVE = "active"
    CREDENTIALS_INVALID = "credentials_invalid"
    DISCONNECTED = "disconnected"


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CREDENTIALS_INVALID = "credentials_invalid"
    DISCONNECTED = "disconnected"


def connection_status(state: str, paused: bool) -> ConnectionStatus:
    """What a merchant sees of a connection: its state, or `paused` when a live one is paused."""
    if state == ConnectionState.DISCONNECTED:
        return ConnectionStatus.DISCONNECTED
    if state == ConnectionState.CREDENTIALS_INVALID:
        return ConnectionStatus.CREDENTIALS_INVALID
    return ConnectionStatus.PAUSED if paused else ConnectionStatus.ACTIVE


def seller_key(seller_id: str) -> str:
    """Two spellings of one Rakuten login are one seller: orders would import twice."""
    return seller_id.strip().casefold()


# Its lease locks the import: one worker at a time, whatever arq does.
class Connection(LeaseColumns, Base):
    __tablename__ = "connections"
    __table_args__ = (
        # At most one live connection per Rakuten seller, whichever merchant owns it.
        Index(
            "uq_connections_live_seller",
            "seller_key",
            unique=True,
            sqlite_where=text("state != 'disconnected'"),
            postgresql_where=text("state != 'disconnected'"),
        ),
        Index("ix_connections_merchant_id", "merchant_id"),
        Index("ix_connections_next_import", "state", "next_import_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    merchant_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    seller_id: Mapped[str] = mapped_column(String(128))
    seller_key: Mapped[str] = mapped_column(String(128))
    stock_sync_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # Stock publishing rules: Rakuten shows min(max(available - stock_buffer, 0), stock_max).
    stock_buffer: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    stock_max: Mapped[int | None] = mapped_column(Integer, default=None)
    # An order whose Cubyn stock check has failed this long is refused on Rakuten (None: never).
    refuse_out_of_stock_after_hours: Mapped[int | None] = mapped_column(Integer, default=None)
    state: Mapped[str] = mapped_column(String(32), default=ConnectionState.ACTIVE.value)
    # Why the state is what it is, in words a merchant understands (credentials refused, ...).
    state_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # Fernet ciphertexts (SECRET_KEYS); erased on disconnect.
    rakuten_token_enc: Mapped[str | None] = mapped_column(Text)
    cubyn_api_key_enc: Mapped[str | None] = mapped_column(Text)
    webhook_secret_enc: Mapped[str | None] = mapped_column(Text)
    # The webhook secret a rotation replaced: still accepted until `previous_webhook_secret_expires_at`, so
    # Cubyn can move to the new one without losing an event (`webhooks/secret_rotation.py`).
    previous_webhook_secret_enc: Mapped[str | None] = mapped_column(Text, default=None)
    previous_webhook_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_import_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_import_error: Mapped[str | None] = mapped_column(Text, default=None)
    # Scheduling: when the next import is due (spread over the interval; pushed back on quota or errors).
    next_import_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The scheduler queued the import in a batch job: not queued again before then (a lost job is requeued).
    import_queued_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    import_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_sales_scan_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def status(self) -> ConnectionStatus:
        return connection_status(self.state, self.paused)

    @hybrid_property
    def is_live(self) -> bool:
        """Not disconnected (also a column expression: `select(Connection.is_live)`)."""
        return self.state != ConnectionState.DISCONNECTED

    @property
    def may_call_rakuten(self) -> bool:
        """Imports and pushes happen only for an active, unpaused connection."""
        return self.state == ConnectionState.ACTIVE and not self.paused
