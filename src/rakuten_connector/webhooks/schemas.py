"""The Cubyn events the connector understands (contracts/cubyn.md section 2).

Unknown fields are ignored and unknown enum values tolerated; a known type lacking its fields is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

PARCEL_UPDATED = "parcel.updated"
STOCK_UPDATED = "stock.updated"


class Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ParcelData(Tolerant):
    id: int | Annotated[str, StringConstraints(min_length=1, max_length=64)]
    orderRef: str | None = None  # noqa: N815 - Cubyn's field name
    status: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    updatedAt: AwareDatetime  # noqa: N815


class StockData(Tolerant):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    available: int = Field(ge=0)
    movement: str | None = None
    delta: int | None = None


class EventEnvelope(Tolerant):
    type: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    timestamp: datetime | None = None


class ParcelUpdated(Tolerant):
    type: str
    timestamp: AwareDatetime | None = None
    data: ParcelData


class StockUpdated(Tolerant):
    type: str
    timestamp: AwareDatetime
    data: StockData


KNOWN_EVENTS: dict[str, type[Tolerant]] = {PARCEL_UPDATED: ParcelUpdated, STOCK_UPDATED: StockUpdated}
