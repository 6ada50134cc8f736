from __future__ import annotations

from pydantic import BaseModel

from rakuten_connector.clients.cubyn_models import DeliveryMode


class CarrierMappingOut(BaseModel):
    label: str
    rakuten_shipping_type: str
    delivery_mode: DeliveryMode | None
    delivery_signed: bool
    available: bool


class CarrierMappingList(BaseModel):
    items: list[CarrierMappingOut]
