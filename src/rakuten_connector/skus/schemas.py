"""SKU mapping bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from rakuten_connector.skus.models import SKU_MAX

PATCH_MAX_KEYS = 10_000
# 1..255 characters, no control character; compared exactly (no trimming, no case folding).
Sku = Annotated[str, StringConstraints(min_length=1, max_length=SKU_MAX, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


class SkuMappingPatch(RootModel[dict[Sku, Sku | None]]):
    """A JSON merge patch: `{"<rakuten_sku>": "<cubyn_sku>", "<rakuten_sku>": null}` (null deletes)."""

    model_config = ConfigDict(strict=True)
    root: dict[Sku, Sku | None] = Field(
        max_length=PATCH_MAX_KEYS,
        examples=[{"RAK-SHIRT-M": "CUB-0042", "RAK-OLD": None}],
    )


class SkuMappingOut(BaseModel):
    rakuten_sku: str
    cubyn_sku: str
    updated_at: datetime


class SkuMappingPage(BaseModel):
    items: list[SkuMappingOut]
    next_cursor: str | None


class SkuMappingPatched(BaseModel):
    upserted: int = Field(description="Rakuten SKUs the patch mapped (set or unchanged).")
    deleted: int = Field(description="Mappings the patch deleted.")
