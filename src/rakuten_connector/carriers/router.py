"""The carrier mapping routes: the default Rakuten delivery mode -> Cubyn table, and a connection's own
effective table (the defaults overridden by its choices), which it may change."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from rakuten_connector.carriers import service
from rakuten_connector.carriers.schemas import (
    CarrierChoicesPatch,
    CarrierMappingList,
    CarrierMappingOut,
    EffectiveCarrierList,
    EffectiveCarrierOut,
)
from rakuten_connector.connections import service as connections
from rakuten_connector.connections.schemas import ConnectionIdParam
from rakuten_connector.deps import CurrentPrincipal, SessionDep
from rakuten_connector.kit.errors import (
    BODY_ERRORS,
    CONNECTION_DISCONNECTED,
    DATABASE_UNAVAILABLE,
    NOT_FOUND,
    UNAUTHORIZED,
    VALIDATION_ERROR,
    error_responses,
)
from rakuten_connector.mapping.carriers import EffectiveCarrier, carrier_mapping_rows

router = APIRouter(prefix="/v1", tags=["carrier mappings"])


@router.get(
    "/carrier-mappings",
    response_model=CarrierMappingList,
    operation_id="carrier_mappings.list_defaults",
    summary="Rakuten delivery modes and Cubyn",
    responses=error_responses(UNAUTHORIZED),
)
async def list_carrier_mappings(principal: CurrentPrincipal) -> CarrierMappingList:
    """Every known Rakuten delivery mode, with the Cubyn mode it maps to by default; unavailable modes are
    not imported unless a connection chooses a Cubyn mode for them."""
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


def _table(rows: Sequence[EffectiveCarrier]) -> EffectiveCarrierList:
    return EffectiveCarrierList(
        items=[
            EffectiveCarrierOut(
                shipping_type=row.shipping_type,
                cubyn=row.cubyn,
                source=row.source,
                label=row.label,
                default=row.default,
                allowed=list(row.allowed),
                seen=row.seen,
            )
            for row in rows
        ]
    )


@router.get(
    "/connections/{connection_id}/carrier-mappings",
    operation_id="carrier_mappings.get",
    responses=error_responses(UNAUTHORIZED, NOT_FOUND, DATABASE_UNAVAILABLE),
    summary="The connection's carrier mappings",
)
async def connection_carrier_mappings(
    connection_id: ConnectionIdParam, principal: CurrentPrincipal, session: SessionDep
) -> EffectiveCarrierList:
    """One row per known Rakuten delivery mode, per mode seen in the connection's sales and per mode it has
    a choice for: what Cubyn does with its sales (`cubyn`) and whether the connection chose it (`source`)."""
    connection = await connections.get_visible(session, principal, connection_id)
    return _table(await service.effective(session, connection.id))


@router.patch(
    "/connections/{connection_id}/carrier-mappings",
    operation_id="carrier_mappings.update",
    responses=error_responses(
        UNAUTHORIZED,
        BODY_ERRORS,
        NOT_FOUND,
        CONNECTION_DISCONNECTED,
        VALIDATION_ERROR,
        {422: ("validation_error", "A shipping type or choice is not valid (RELAY needs a Mondial Relay mode).")},
        DATABASE_UNAVAILABLE,
    ),
    summary="Change the connection's carrier mappings",
)
async def change_carrier_mappings(
    connection_id: ConnectionIdParam, body: CarrierChoicesPatch, principal: CurrentPrincipal, session: SessionDep
) -> EffectiveCarrierList:
    """`{"<Rakuten shipping type>": "<choice>"}` sets a choice, `null` goes back to the default. Shipping
    types compare without regard to case, accents and spacing. Orders skipped for their delivery mode that
    still wait on Rakuten are imported at the next import. Answers the new effective table."""
    connection = await connections.get_visible(session, principal, connection_id)
    rows = await service.apply_patch(session, connection, body.root)
    await session.commit()
    return _table(rows)
