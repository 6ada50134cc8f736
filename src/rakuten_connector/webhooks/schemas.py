"""The Cubyn events the connector understands: `parcel.updated` and `stock.updated`.

Unknown fields are ignored and unknown enum values tolerated; a known type lacking its fields is refused,
and so is one whose values Rakuten or the database cannot take: a quantity outside 0..2^31-1, a time that
has no UTC equivalent, or a time more than a few minutes ahead (the newest event wins, so one dated 2099
would freeze its SKU or parcel for good).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from rakuten_connector.kit.clock import utcnow

PARCEL_UPDATED = "parcel.updated"
STOCK_UPDATED = "stock.updated"


MAX_QUANTITY = 2**31 - 1  # Rakuten's and the database's integer
MAX_CLOCK_AHEAD = timedelta(minutes=5)


def _a_real_moment(value: datetime) -> datetime:
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("this time has no UTC equivalent") from None
    if in_utc > utcnow() + MAX_CLOCK_AHEAD:
        raise ValueError("this time is in the future")
    return in_utc


EventTime = Annotated[AwareDatetime, AfterValidator(_a_real_moment)]
Quantity = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]


class Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ParcelData(Tolerant):
    id: Annotated[int, Field(ge=0, le=2**63 - 1)] | Annotated[str, StringConstraints(min_length=1, max_length=64)]
    orderRef: Annotated[str, StringConstraints(max_length=255)] | None = None  # noqa: N815 - Cubyn's name
    status: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    updatedAt: EventTime  # noqa: N815
    createdAt: EventTime | None = None  # noqa: N815
    validatedAt: EventTime | None = None  # noqa: N815
    shippedAt: EventTime | None = None  # noqa: N815


class StockData(Tolerant):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    available: Quantity
    movement: Annotated[str, StringConstraints(max_length=64)] | None = None
    delta: Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)] | None = None


class EventEnvelope(Tolerant):
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    timestamp: datetime | None = None


class ParcelUpdated(Tolerant):
    type: str
    timestamp: EventTime | None = None
    data: ParcelData


class StockUpdated(Tolerant):
    type: str
    timestamp: EventTime
    data: StockData


KNOWN_EVENTS: dict[str, type[Tolerant]] = {PARCEL_UPDATED: ParcelUpdated, STOCK_UPDATED: StockUpdated}
