"""Stock answers (and the optional, empty body of a sync request)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from rakuten_connector.skus.suggestions import SuggestionRule
from rakuten_connector.stock.models import StockStatus, SyncStatus


class StockItemOut(BaseModel):
    sku: str = Field(description="The Rakuten SKU.")
    cubyn_sku: str = Field(description="The Cubyn SKU whose stock it follows (itself unless a SKU mapping says).")
    wanted_quantity: int = Field(description="Cubyn's latest `available` for `cubyn_sku`.")
    published_quantity: int = Field(
        description="What Rakuten should show: `wanted_quantity` under the connection's `stock_buffer` and "
        "`stock_max`."
    )
    wanted_at: datetime | None = Field(description="Time of the Cubyn event (or full-sync read) it comes from.")
    pushed_quantity: int | None = Field(description="The last quantity Rakuten took from a stock file.")
    pushed_at: datetime | None
    status: StockStatus = Field(
        description="`pending`: not on Rakuten yet; `pushed`: Rakuten has the published quantity; "
        "`rejected`: Rakuten refused the SKU (see `reason`), not sent again until its quantity changes; "
        "`unknown_on_rakuten`: no Rakuten offer has this SKU (same rule)."
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
    cubyn_skus: int = Field(description="SKUs in Cubyn's catalogue (counted once read).")
    compared: int = Field(description="Rakuten SKUs whose Cubyn SKU (the same string, or its mapping) Cubyn has.")
    to_update: int = Field(description="SKUs whose Rakuten quantity differs and must be pushed.")
    updated: int = Field(description="SKUs whose quantity was pushed (Rakuten took it).")


class SuggestedMapping(BaseModel):
    rakuten_sku: str = Field(description="A SKU only Rakuten has.")
    cubyn_sku: str = Field(description="A SKU only Cubyn has that differs from it only by `rule`.")
    rule: SuggestionRule = Field(
        description="What tells them apart: `case`, `whitespace`, `separators` (- _ . / space) or `leading_zeros` "
        "(each rule also allows the ones before it)."
    )


class StockSyncOut(BaseModel):
    id: str
    status: SyncStatus
    phase: SyncPhaseOut
    trigger: str = Field(
        description="`manual` (the merchant's button), `scheduled` (nightly) or `mapping` (a SKU mapping made a "
        "SKU follow a Cubyn SKU whose quantity was not known yet)."
    )
    progress: StockSyncProgress
    only_on_rakuten: list[str] = Field(
        description="Rakuten SKUs whose Cubyn SKU (itself, or its mapping) Cubyn does not have (complete list)."
    )
    only_on_cubyn: list[str] = Field(
        description="Cubyn SKUs no Rakuten SKU follows, directly or through a SKU mapping (complete list)."
    )
    suggested_mappings: list[SuggestedMapping] = Field(
        description="Pairs of one-sided SKUs that are surely the same product; accept them with one "
        "`PATCH /v1/connections/{id}/sku-mappings` of `{rakuten_sku: cubyn_sku}`."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
