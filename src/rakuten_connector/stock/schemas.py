"""Stock answers (and the optional, empty body of a sync request)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from rakuten_connector.stock.models import StockStatus, SyncStatus


class StockItemOut(BaseModel):
    sku: str
    wanted_quantity: int = Field(description="What Rakuten should show: Cubyn's latest `available`.")
    wanted_at: datetime | None = Field(description="Time of the Cubyn event (or full-sync read) it comes from.")
    pushed_quantity: int | None = Field(description="The last quantity Rakuten took from a stock file.")
    pushed_at: datetime | None
    status: StockStatus = Field(
        description="`pending`: not on Rakuten yet; `pushed`: Rakuten has the wanted quantity; "
        "`rejected`: Rakuten refused the SKU (see `reason`), not sent again until its quantity changes."
    )
    reason: str | None = Field(description="Rakuten's reason when it rejected the SKU.")


class StockPage(BaseModel):
    items: list[StockItemOut]
    next_cursor: str | None


class StockSyncRequest(BaseModel):
    """No options yet; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class StockSyncQueued(BaseModel):
    id: str
    status: SyncStatus


class SyncPhaseOut(StrEnum):
    READING_RAKUTEN = "reading_rakuten"
    READING_CUBYN = "reading_cubyn"
    COMPARING = "comparing"
    PUSHING = "pushing"
    DONE = "done"


class StockSyncProgress(BaseModel):
    rakuten_skus: int = Field(description="SKUs in Rakuten's inventory (read so far while reading).")
    cubyn_skus: int = Field(description="SKUs in Cubyn's catalogue (read so far while reading).")
    compared: int = Field(description="SKUs on both sides (the exact same string).")
    to_update: int = Field(description="SKUs whose Rakuten quantity differs and must be pushed.")
    updated: int = Field(description="SKUs whose quantity was pushed (Rakuten took it).")


class StockSyncOut(BaseModel):
    id: str
    status: SyncStatus
    phase: SyncPhaseOut
    trigger: str = Field(description="`manual` (the merchant's button) or `scheduled` (nightly).")
    progress: StockSyncProgress
    only_on_rakuten: list[str] = Field(description="SKUs Rakuten has and Cubyn does not (complete list).")
    only_on_cubyn: list[str] = Field(description="SKUs Cubyn has and Rakuten does not (complete list).")
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
