"""SKU mapping bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from rakuten_connector.skus.models import SKU_MAX

PATCH_MAX_KEYS = 10_000
# 1..255 characters, no control character; compared exactly (no trimming, no case folding). A Rakuten SKU
# is matched as Rakuten sends it, spaces included; a Cubyn SKU goes to Cubyn as it is, so it may not start
# or end with whitespace (Cubyn would not know it).
Sku = Annotated[str, StringConstraints(min_length=1, max_length=SKU_MAX, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]
CubynSku = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=SKU_MAX,
        pattern=r"^[^\s\x00-\x1f\x7f-\x9f](?:[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$",
    ),
]


class SkuMappingPatch(RootModel[dict[Sku, CubynSku | None]]):
    """A JSON merge patch: `{"<rakuten_sku>": "<cubyn_sku>", "<rakuten_sku>": null}` (null deletes)."""

    model_config = ConfigDict(strict=True)
    root: dict[Sku, CubynSku | None] = Field(
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
