"""Connection bodies and answers. No answer ever carries a secret."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from rakuten_connector.connections.models import ConnectionStatus

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
SellerId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
# Tokens and keys travel in URLs and headers: printable ASCII only (anything else cannot be a real one).
Secret = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=512, pattern=r"^[\x21-\x7e]+$")
]
MerchantId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class WriteBody(BaseModel):
    """What a client writes: no unknown field, and no coercion (a boolean is a JSON boolean, not "yes" or 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ConnectionCreate(WriteBody):
    name: Name
    seller_id: SellerId = Field(description="The Rakuten seller login (what the merchant calls Seller ID).")
    token: Secret = Field(description="The Rakuten web-services login token. Never returned.")
    cubyn_api_key: Secret = Field(description="The merchant's Cubyn application key. Never returned.")
    stock_sync_enabled: bool = True
    merchant_id: MerchantId | None = Field(
        default=None, description="Operators only: the merchant the connection belongs to."
    )


class ConnectionUpdate(WriteBody):
    name: Name | None = None
    stock_sync_enabled: bool | None = None
    paused: bool | None = None
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
