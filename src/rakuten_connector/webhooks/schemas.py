"""The Cubyn events the connector understands: `parcel.updated` and `stock.updated`; and the answers about
stored events and webhook secrets (routes and CLI alike).

Unknown fields are ignored and unknown enum values tolerated; a known type lacking its fields is refused,
and so is one whose values Rakuten or the database cannot take: a quantity outside 0..2^31-1, a time that
has no UTC equivalent, or a time more than a few minutes ahead (the newest event wins, so one dated 2099
would freeze its SKU or parcel for good).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from rakuten_connector.clients.cubyn_models import Parcel
from rakuten_connector.kit.clock import UpstreamTime
from rakuten_connector.kit.text_guard import storable
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent

PARCEL_UPDATED = "parcel.updated"
STOCK_UPDATED = "stock.updated"

MAX_QUANTITY = 2**31 - 1  # Rakuten's and the database's integer
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]


def _storable_sku(value: str) -> str:
    if not storable(value):
        raise ValueError("a SKU may not hold NUL or an unpaired surrogate")
    return value


class Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ParcelEvent(Parcel):
    """The parcel a `parcel.updated` carries: its `updatedAt` is what orders the events."""

    updated_at: UpstreamTime


class StockData(Tolerant):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=255), AfterValidator(_storable_sku)]
    available: Quantity
    movement: Annotated[str, StringConstraints(max_length=64)] | None = None
    delta: Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)] | None = None


class EventEnvelope(Tolerant):
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    timestamp: datetime | None = None


class ParcelUpdated(Tolerant):
    type: str
    timestamp: UpstreamTime | None = None
    data: ParcelEvent


class StockUpdated(Tolerant):
    type: str
    timestamp: UpstreamTime
    data: StockData


KNOWN_EVENTS: dict[str, type[Tolerant]] = {PARCEL_UPDATED: ParcelUpdated, STOCK_UPDATED: StockUpdated}


# -- answers of the routes and the CLI about stored events and webhook secrets ------------------------------


class EventOut(BaseModel):
    """A stored event without its body (it holds the merchant's parcels and stock, not for a listing)."""

    id: str
    connection_id: str
    webhook_id: str = Field(description="The `webhook-id` Cubyn sent it with.")
    event_type: str
    status: EventStatus
    attempts: int = Field(description="How many times a worker handled it.")
    last_error: str | None = Field(description="Why its last handling failed.")
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def of(cls, event: WebhookEvent) -> EventOut:
        return cls(
            id=event.id,
            connection_id=event.connection_id,
            webhook_id=event.webhook_id,
            event_type=event.event_type,
            status=EventStatus(event.status),
            attempts=event.attempts,
            last_error=event.last_error,
            received_at=event.received_at,
            processed_at=event.processed_at,
        )


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(description="Give it as `cursor` for the next page; null on the last.")


class WebhookSecretRotated(BaseModel):
    """A connection's new webhook secret, shown this once; the one it replaced still verifies events until
    `previous_secret_valid_until`."""

    connection_id: str
    url: str = Field(description="Where Cubyn sends the connection's events (unchanged).")
    secret: str = Field(description="The new Standard Webhooks secret (`whsec_...`). Never shown again.")
    previous_secret_valid_until: datetime = Field(
        description="Until this instant (UTC) an event signed with the previous secret is still accepted."
    )
    grace_period_seconds: int = Field(description="How long the previous secret stays valid after a rotation.")
