"""Order answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rakuten_connector.connections.schemas import WriteBody
from rakuten_connector.mapping.statuses import OrderState

# The states an order can be retried from.
RetryableState = Literal[OrderState.FAILED, OrderState.NEEDS_ATTENTION]


class OrderItemOut(BaseModel):
    item_id: str
    sku: str = Field(description="The Rakuten SKU (the offer's seller reference).")
    cubyn_sku: str | None = Field(
        description="The SKU the parcel carries at Cubyn when a SKU mapping of the connection renamed it "
        "(null: Cubyn knows the product by the Rakuten SKU)."
    )
    status: str = Field(description="The item's Rakuten status as last known.")
    accepted_at: datetime | None
    tracking_pushed_at: datetime | None


class OrderEventOut(BaseModel):
    at: datetime
    kind: str
    message: str


_ORDER: dict[str, Any] = {
    "purchase_id": "1203456789",
    "connection_id": "6f1c2b9e-3d4a-4f5b-9c8d-7e6f5a4b3c2d",
    "state": "shipped",
    "reason": None,
    "shipping_type": "Suivi",
    "delivery_mode": "STANDARD",
    "parcel_id": "123456",
    "tracking_id": "CUB123456",
    "items": [
        {
            "item_id": "987654321",
            "sku": "RAK-SHIRT-M",
            "cubyn_sku": "CUB-0042",
            "status": "ACCEPTED",
            "accepted_at": "2026-03-02T10:02:00Z",
            "tracking_pushed_at": "2026-03-02T16:40:00Z",
        }
    ],
    "purchased_at": "2026-03-02T09:41:00Z",
    "imported_at": "2026-03-02T09:45:12Z",
}


class OrderOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ORDER]})

    purchase_id: str = Field(description="Rakuten's purchase id.")
    connection_id: str = Field(description="The connection the order came through.")
    state: OrderState
    reason: str | None = Field(description="Why skipped, failed or needing attention.")
    shipping_type: str | None = Field(description="Rakuten's shipping type.")
    delivery_mode: str | None = Field(description="Cubyn's delivery mode.")
    parcel_id: str | None
    tracking_id: str | None
    items: list[OrderItemOut]
    purchased_at: datetime | None
    imported_at: datetime


class OrderDetail(OrderOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_ORDER,
                    "parcel_status": "SHIPPED",
                    "last_error": None,
                    "events": [
                        {
                            "at": "2026-03-02T09:45:12Z",
                            "kind": "imported",
                            "message": "Cubyn parcel CUB123456 created.",
                        },
                        {"at": "2026-03-02T16:40:00Z", "kind": "shipped", "message": "Tracking sent to Rakuten."},
                    ],
                }
            ]
        }
    )

    parcel_status: str | None = Field(description="The Cubyn parcel's status as last known.")
    last_error: str | None
    events: list[OrderEventOut]


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


class Accepted(BaseModel):
    status: str = "accepted"


class RetriesRequest(WriteBody):
    state: RetryableState = Field(description="Retry every order of the connection in this state.")


class RetriesQueued(BaseModel):
    queued: int = Field(description="How many order retries were queued.")
