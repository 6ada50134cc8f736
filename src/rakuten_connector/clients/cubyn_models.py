"""Typed shapes of the Cubyn API.

Answers are read leniently: unknown fields are ignored and unknown status strings are kept as strings.
Requests are written with Cubyn's camelCase names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from rakuten_connector.kit.clock import UpstreamTime

MAX_PARCEL_ID = 2**63 - 1  # the largest signed 64-bit integer


def _parcel_id_text(value: Any) -> str:
    """The decimal text of an id Cubyn sent: a JSON integer in 0..2^63-1, never a bool, float or string."""
    if type(value) is not int or not 0 <= value <= MAX_PARCEL_ID:  # bool is an int subclass: refused
        raise ValueError(f"a parcel id is an integer from 0 to {MAX_PARCEL_ID}")
    return str(value)


# A Cubyn parcel id (pydantic field type): Cubyn writes it as an integer, the connector keeps its decimal text.
ParcelId = Annotated[str, PlainValidator(_parcel_id_text, json_schema_input_type=int)]


class ParcelStatus(StrEnum):
    """The statuses the contract names. A parcel may carry others: compare with strings, never convert."""

    CREATED = "CREATED"
    PICKED = "PICKED"
    PACKED = "PACKED"
    SHIPPED = "SHIPPED"
    CARRIER_IN_TRANSIT = "CARRIER_IN_TRANSIT"
    CARRIER_OUT_FOR_DELIVERY = "CARRIER_OUT_FOR_DELIVERY"
    CARRIER_FAILED_ATTEMPT = "CARRIER_FAILED_ATTEMPT"
    CARRIER_EXCEPTION = "CARRIER_EXCEPTION"
    CARRIER_DELIVERED = "CARRIER_DELIVERED"
    CUBYN_EXCEPTION = "CUBYN_EXCEPTION"
    RETURNING = "RETURNING"
    RETURNED = "RETURNED"
    CANCELLED = "CANCELLED"


class DeliveryMode(StrEnum):
    STANDARD = "STANDARD"
    EXPRESS = "EXPRESS"
    RELAY = "RELAY"


class _CamelModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class _Answer(_CamelModel):
    model_config = ConfigDict(extra="ignore")


class _Request(_CamelModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- requests -----------------------------------------------------------------------------------------


class ParcelAddress(_Request):
    line1: str
    line2: str | None = None
    additional_information: str | None = None
    zip: str
    city: str
    country: str


class RelayPointRef(_Request):
    id: str
    country: str
    name: str | None = None


class ParcelItem(_Request):
    sku: str
    quantity: int


class ParcelRequest(_Request):
    """The create-parcel body. Built by `mapping.parcels`; the limits are checked there and by Cubyn."""

    order_ref: str
    first_name: str | None = None
    last_name: str | None = None
    organization_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: ParcelAddress
    delivery_mode: str
    delivery_signed: bool = False
    relay_point: RelayPointRef | None = None
    items: tuple[ParcelItem, ...]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# -- answers ------------------------------------------------------------------------------------------


class ValidationCheck(_Answer):
    status: str
    error: str | None = None


class Parcel(_Answer):
    """A parcel as Cubyn's answers and webhooks give it; values the connector could not store are refused."""

    id: ParcelId
    order_ref: Annotated[str, StringConstraints(max_length=255)] | None = None
    status: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    validations: dict[str, ValidationCheck] = Field(default_factory=dict)
    validated_at: UpstreamTime | None = None
    delivery_mode: str | None = None
    delivery_signed: bool | None = None
    carrier: str | None = None
    carrier_tracking_id: str | None = None
    created_at: UpstreamTime | None = None
    updated_at: UpstreamTime | None = None
    shipped_at: UpstreamTime | None = None

    @field_validator("validations", mode="before")
    @classmethod
    def _no_validations(cls, value: Any) -> Any:
        return {} if value is None else value

    @property
    def tracking_id(self) -> str:
        """What the recipient follows on Cubyn's tracking page."""
        return f"CUB{self.id}"

    @property
    def is_validated(self) -> bool:
        return self.validated_at is not None

    def failed_checks(self) -> dict[str, ValidationCheck]:
        return {name: check for name, check in self.validations.items() if check.status.upper() == "FAILED"}


class Stock(_Answer):
    available: int = 0
    reserved: int = 0
    stored: int = 0


class CatalogProduct(_Answer):
    sku: str
    name: str | None = None
    stock: Stock = Field(default_factory=Stock)


class FieldError(_Answer):
    field: str
    message: str = ""
