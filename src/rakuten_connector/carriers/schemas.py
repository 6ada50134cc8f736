"""Carrier mapping bodies and answers."""

from __future__ import annotations

from pydantic import BaseModel, Field, RootModel

from rakuten_connector.clients.cubyn_models import DeliveryMode
from rakuten_connector.mapping.carriers import CarrierChoiceValue, ChoiceSource

PATCH_MAX_KEYS = 1000


class CarrierMappingOut(BaseModel):
    label: str
    rakuten_shipping_type: str
    delivery_mode: DeliveryMode | None
    delivery_signed: bool
    available: bool


class CarrierMappingList(BaseModel):
    items: list[CarrierMappingOut]


class CarrierChoicesPatch(RootModel[dict[str, CarrierChoiceValue | None]]):
    """A JSON merge patch: `{"<Rakuten shipping type>": "<choice>", "<Rakuten shipping type>": null}`
    (null: back to the default)."""

    root: dict[str, CarrierChoiceValue | None] = Field(
        min_length=1,
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
