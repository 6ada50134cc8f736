"""Carrier mapping bodies and answers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, RootModel, StringConstraints

from rakuten_connector.clients.cubyn_models import DeliveryMode
from rakuten_connector.mapping.carriers import SHIPPING_TYPE_MAX, CarrierChoiceValue, ChoiceSource

PATCH_MAX_KEYS = 1000
# 1..128 characters, none of them a control, format (invisible) or private-use character.
ShippingType = Annotated[
    str, StringConstraints(min_length=1, max_length=SHIPPING_TYPE_MAX, pattern=r"^[^\p{Cc}\p{Cf}\p{Co}]+$")
]


class CarrierMappingOut(BaseModel):
    label: str
    rakuten_shipping_type: str
    delivery_mode: DeliveryMode | None
    delivery_signed: bool
    available: bool


class CarrierMappingList(BaseModel):
    items: list[CarrierMappingOut]


class CarrierChoicesPatch(RootModel[dict[ShippingType, CarrierChoiceValue | None]]):
    """A JSON merge patch: `{"<Rakuten shipping type>": "<choice>", "<Rakuten shipping type>": null}`
    (null: back to the default; `{}` changes nothing)."""

    root: dict[ShippingType, CarrierChoiceValue | None] = Field(
        max_length=PATCH_MAX_KEYS,
        examples=[{"So Colissimo": "STANDARD", "Mode personnalisé 1": "EXPRESS", "Suivi": None}],
    )


class EffectiveCarrierOut(BaseModel):
    shipping_type: str = Field(description="Rakuten's shipping type (the exact string for the known modes).")
    cubyn: CarrierChoiceValue = Field(
        description="What Cubyn does with its sales; NOT_IMPORTED: they are skipped."
    )
    source: ChoiceSource = Field(
        description="`connection`: this connection's choice; `default`: the default table."
    )
    label: str | None = Field(
        description="What the merchant sees in Rakuten's back office (null: the seller's own mode)."
    )
    default: CarrierChoiceValue = Field(description="What the default table says.")
    allowed: list[CarrierChoiceValue] = Field(description="The choices this shipping type accepts.")
    seen: bool = Field(description="The connection has orders with this shipping type.")


class EffectiveCarrierList(BaseModel):
    items: list[EffectiveCarrierOut]
