"""Order answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from rakuten_connector.mapping.statuses import OrderState


class OrderItemOut(BaseModel):
    item_id: str
    sku: str
    status: str = Field(description="The item's Rakuten status as last known.")
    accepted_at: datetime | None
    tracking_pushed_at: datetime | None


class OrderEventOut(BaseModel):
    at: datetime
    kind: str
    message: str


class OrderOut(BaseModel):
    purchase_id: str
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
