"""Stock answers (and the optional, empty body of a sync request)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from rakuten_connector.skus.suggestions import SuggestionRule
from rakuten_connector.stock.models import StockStatus, SyncStatus


class StockItemOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sku": "RAK-SHIRT-M",
                    "cubyn_sku": "CUB-0042",
                    "wanted_quantity": 12,
                    "published_quantity": 10,
                    "wanted_at": "2026-03-02T09:14:03Z",
                    "pushed_quantity": 10,
                    "pushed_at": "2026-03-02T09:20:00Z",
                    "status": "pushed",
                    "reason": None,
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "0b7e3c52-8a41-4d0e-9f3a-2c6d5e4f1a90", "status": "queued"}]}
    )

    id: str = Field(description="The sync's id: read its progress at `.../stock-syncs/{sync_id}`.")
    status: SyncStatus


# SyncPhase's values under the name the OpenAPI schema has always had (`SyncPhaseOut`): reusing SyncPhase
# would rename that schema, and the types of the clients generated from it.
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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7e3c52-8a41-4d0e-9f3a-2c6d5e4f1a90",
                    "status": "succeeded",
                    "phase": "done",
                    "trigger": "manual",
                    "progress": {
                        "rakuten_skus": 1250,
                        "cubyn_skus": 1248,
                        "compared": 1246,
                        "to_update": 31,
                        "updated": 31,
                    },
                    "only_on_rakuten": ["rak-shirt-xl", "OLD-42"],
                    "only_on_cubyn": ["RAK-SHIRT-XL", "NEW-7"],
                    "suggested_mappings": [
                        {"rakuten_sku": "rak-shirt-xl", "cubyn_sku": "RAK-SHIRT-XL", "rule": "case"}
                    ],
                    "error": None,
                    "created_at": "2026-03-02T09:00:00Z",
                    "started_at": "2026-03-02T09:00:01Z",
                    "finished_at": "2026-03-02T09:03:12Z",
                }
            ]
        }
    )

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
