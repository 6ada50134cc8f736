"""Order answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

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


class OrderOut(BaseModel):
    purchase_id: str
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
    parcel_status: str | None
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
