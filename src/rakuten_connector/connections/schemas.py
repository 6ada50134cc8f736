"""Connection bodies and answers. No answer ever carries a secret."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
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

ConnectionIdParam = Annotated[
    str, Path(description="The connection's id (a UUID, as `connections.create` gave it).")
]
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


_CONNECTION_ID = "6f1c2b9e-3d4a-4f5b-9c8d-7e6f5a4b3c2d"


class ConnectionCreate(WriteBody):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Boutique Lumière",
                    "seller_id": "boutique-lumiere",
                    "token": "b5d2c0f1a9e84d7c",
                    "cubyn_api_key": "cub_live_0a1b2c3d4e5f",
                    "stock_buffer": 2,
                    "stock_max": 50,
                    "refuse_out_of_stock_after_hours": 24,
                }
            ]
        }
    )

    name: Name = Field(description="What the merchant calls the shop.")
    seller_id: SellerId = Field(description="The Rakuten seller login (what the merchant calls Seller ID).")
    token: Secret = Field(description="The Rakuten web-services login token. Never returned.")
    cubyn_api_key: Secret = Field(description="The merchant's Cubyn application key. Never returned.")
    stock_sync_enabled: bool = Field(default=True, description="Keep Rakuten's stock at Cubyn's.")
    stock_buffer: StockBuffer = 0
    stock_max: StockMax | None = None
    refuse_out_of_stock_after_hours: RefuseAfterHours | None = None
    merchant_id: MerchantId | None = Field(
        default=None, description="Operators only: the merchant the connection belongs to."
    )


class ConnectionUpdate(WriteBody):
    """Fields left out stay as they are; `stock_max` and `refuse_out_of_stock_after_hours` set to null are
    cleared (no cap, never refuse)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"paused": True}, {"stock_buffer": 5, "stock_max": None}]}
    )

    name: Name | None = None
    stock_sync_enabled: bool | None = None
    paused: bool | None = None
    stock_buffer: StockBuffer | None = None
    stock_max: StockMax | None = None
    refuse_out_of_stock_after_hours: RefuseAfterHours | None = None
    token: Secret | None = None
    cubyn_api_key: Secret | None = None


class WebhookEndpoint(BaseModel):
    url: str = Field(description="Where Cubyn sends the connection's events.")
    secret: str = Field(description="Shown this once: register it in Cubyn.")


_CONNECTION_OUT: dict[str, Any] = {
    "id": _CONNECTION_ID,
    "merchant_id": "merchant-42",
    "name": "Boutique Lumière",
    "seller_id": "boutique-lumiere",
    "stock_sync_enabled": True,
    "stock_buffer": 2,
    "stock_max": 50,
    "refuse_out_of_stock_after_hours": 24,
    "paused": False,
    "status": "active",
    "status_reason": None,
    "created_at": "2026-03-02T09:15:00Z",
    "last_import_at": "2026-03-02T09:20:00Z",
    "last_import_error": None,
    "orders": {
        "skipped": 2,
        "importing": 0,
        "imported": 3,
        "accepted": 12,
        "shipped": 140,
        "cancelled": 1,
        "failed": 0,
        "needs_attention": 1,
    },
    "webhook_url": f"https://connector.example.com/v1/webhooks/cubyn/{_CONNECTION_ID}",
}


class ConnectionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_CONNECTION_OUT]})

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
    orders: dict[str, int] = Field(description="Number of orders per state (every state, 0 when none).")
    webhook_url: str


class ConnectionCreated(ConnectionOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CONNECTION_OUT,
                    "last_import_at": None,
                    "orders": dict.fromkeys(_CONNECTION_OUT["orders"], 0),
                    "webhook": {
                        "url": _CONNECTION_OUT["webhook_url"],
                        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    },
                }
            ]
        }
    )

    webhook: WebhookEndpoint = Field(description="Register it in Cubyn: its URL and signing secret.")


class ConnectionList(BaseModel):
    items: list[ConnectionOut]
