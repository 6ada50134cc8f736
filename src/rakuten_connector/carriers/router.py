"""`GET /v1/carrier-mappings`: the Rakuten delivery mode -> Cubyn mode table."""

from __future__ import annotations

from fastapi import APIRouter

from rakuten_connector.carriers.schemas import CarrierMappingList, CarrierMappingOut
from rakuten_connector.deps import CurrentPrincipal
from rakuten_connector.mapping.carriers import carrier_mapping_rows

router = APIRouter(prefix="/v1", tags=["carrier mappings"])


@router.get("/carrier-mappings", response_model=CarrierMappingList, summary="Rakuten delivery modes and Cubyn")
async def list_carrier_mappings(principal: CurrentPrincipal) -> CarrierMappingList:
    """Every known Rakuten delivery mode, with the Cubyn mode it maps to; unavailable modes are not imported."""
    del principal  # any authenticated merchant or operator may read the table
    return CarrierMappingList(
        items=[
            CarrierMappingOut(
                label=row.label,
                rakuten_shipping_type=row.rakuten_shipping_type,
                delivery_mode=row.delivery_mode,
                delivery_signed=row.delivery_signed,
                available=row.available,
            )
            for row in carrier_mapping_rows()
        ]
    )
