"""Connection bodies and answers. No answer ever carries a secret."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    WithJsonSchema,
)

from rakuten_connector.connections.models import ConnectionStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SellerId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
# Tokens and keys travel in URLs and headers: printable ASCII only (anything else cannot be a real one).
_PRINTABLE = r"^[\x21-\x7e]+$"


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _printable(value: SecretStr) -> SecretStr:
    if not re.fullmatch(_PRINTABLE, value.get_secret_value()):
        raise ValueError("must be printable ASCII characters without spaces")
    return value


# A SecretStr from the start: no repr, traceback or log line of a body can show it.
Secret = Annotated[
    SecretStr,
    BeforeValidator(_strip),
    Field(min_length=1, max_length=512),
    AfterValidator(_printable),
    WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 512, "pattern": _PRINTABLE}),
]
MerchantId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
# Quantities beyond this are no real stock: refused rather than published.
QUANTITY_MAX = 1_000_000
StockBuffer = Annotated[
    int,
    Field(
        ge=0,
        le=QUANTITY_MAX,
        description="Units kept back: Rakuten shows `min(max(available - stock_buffer, 0), stock_max)`.",
    ),
]
StockMax = Annotated[
    int, Field(ge=1, le=QUANTITY_MAX, description="The most Rakuten ever shows of a SKU (null: no cap).")
]
RefuseAfterHours = Annotated[
    int,
    Field(
        ge=1,
        le=47,
        description="Hours an order may wait on a failed Cubyn stock check before the connector cancels its "
        "parcel and refuses the sale on Rakuten (null: never, the merchant decides).",
    ),
]


class WriteBody(BaseModel):
    """What a client writes: no unknown field, and no coercion (a boolean is a JSON boolean, not "yes" or 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ConnectionCreate(WriteBody):
    name: Name
    seller_id: SellerId = Field(description="The Rakuten seller login (what the merchant calls Seller ID).")
    token: Secret = Field(description="The Rakuten web-services login token. Never returned.")
    cubyn_api_key: Secret = Field(description="The merchant's Cubyn application key. Never returned.")
    stock_sync_enabled: bool = True
    stock_buffer: StockBuffer = 0
    stock_max: StockMax | None = None
    refuse_out_of_stock_after_hours: RefuseAfterHours | None = None
    merchant_id: MerchantId | None = Field(
        default=None, description="Operators only: the merchant the connection belongs to."
    )


class ConnectionUpdate(WriteBody):
    """Fields left out stay as they are; `stock_max` and `refuse_out_of_stock_after_hours` set to null are
    cleared (no cap, never refuse)."""

    name: Name | None = None
    stock_sync_enabled: bool | None = None
    paused: bool | None = None
    stock_buffer: StockBuffer | None = None
    stock_max: StockMax | None = None
    refuse_out_of_stock_after_hours: RefuseAfterHours | None = None
    token: Secret | None = None
    cubyn_api_key: Secret | None = None


class WebhookEndpoint(BaseModel):
    url: str
    secret: str = Field(description="Shown this once: register it in Cubyn.")


class ConnectionOut(BaseModel):
    id: str
    merchant_id: str
    name: str
    seller_id: str
    stock_sync_enabled: bool
    stock_buffer: int
    stock_max: int | None
    refuse_out_of_stock_after_hours: int | None
    paused: bool
    status: ConnectionStatus
    status_reason: str | None = Field(description="Why the connection is not active, when it is not.")
    created_at: datetime
    last_import_at: datetime | None
    last_import_error: str | None
    orders: dict[str, int] = Field(description="Number of orders per state.")
    webhook_url: str


class ConnectionCreated(ConnectionOut):
    webhook: WebhookEndpoint


class ConnectionList(BaseModel):
    items: list[ConnectionOut]
