"""What the Cubyn sandbox's world is made of: applications (API keys with a webhook target), catalogue
products, parcels, and the delays of the parcel lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DELIVERY_MODES = ("STANDARD", "EXPRESS", "RELAY")
CARRIERS = {"STANDARD": "COLISSIMO", "EXPRESS": "CHRONOPOST", "RELAY": "MONDIAL_RELAY"}
MOVEMENTS = ("INBOUND", "RETURN", "FULFILMENT", "ADJUSTMENT")
STEPS = ("validate", "pick", "pack", "ship", "in_transit", "deliver")
SHIPPED_OR_LATER = frozenset(
    {
        "SHIPPED",
        "CARRIER_IN_TRANSIT",
        "CARRIER_OUT_FOR_DELIVERY",
        "CARRIER_FAILED_ATTEMPT",
        "CARRIER_EXCEPTION",
        "CARRIER_DELIVERED",
        "RETURNING",
        "RETURNED",
    }
)


@dataclass
class LifecycleDelays:
    """Seconds before each step happens on its own; None: only when forced through the control API."""

    validate: float | None = 0.5
    pick: float | None = 1.0
    pack: float | None = 1.0
    ship: float | None = 1.0
    in_transit: float | None = None
    deliver: float | None = None


@dataclass
class Application:
    id: int
    key: str
    name: str
    merchant_id: str
    webhook_url: str | None = None
    webhook_secret: str | None = None


@dataclass
class Product:
    sku: str
    name: str
    available: int
    stored: int


@dataclass
class SandboxParcel:
    id: int
    application: Application
    order_ref: str
    body: dict[str, Any]
    items: dict[str, int]
    created_at: datetime
    updated_at: datetime
    status: str = "CREATED"
    validations: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"address": {"status": "PENDING"}, "stock": {"status": "PENDING"}}
    )
    validated_at: datetime | None = None
    carrier: str | None = None
    carrier_tracking_id: str | None = None
    shipped_at: datetime | None = None
    generation: int = 0  # bumped on every change: a scheduled step of an older generation does nothing

    @property
    def delivery_mode(self) -> str:
        return str(self.body.get("deliveryMode"))

    def check_failed(self) -> bool:
        return any(check.get("status") == "FAILED" for check in self.validations.values())
