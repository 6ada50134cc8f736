"""Bodies of the Rakuten sandbox's control API (documented in `app.py`): pydantic models refusing unknown
fields, as every control body of both simulators."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import Field

from rakuten_connector.sandbox import faults
from rakuten_connector.sandbox.bodies import ControlBody
from rakuten_connector.sandbox.faults import Rate
from rakuten_connector.sandbox.rakuten.models import SbAddress, SbRelayPoint


class Faults(faults.Faults):
    """Faults of the web-service calls matching `actions` and `logins` (all when None); `times`: only the
    next N matching calls."""

    timeout_rate: Rate = 0.0
    timeout_seconds: float = Field(default=30.0, ge=0, le=600)
    garbled_rate: Rate = 0.0
    truncated_rate: Rate = 0.0
    quota_exhausted: bool = False
    actions: list[str] | None = None
    logins: list[str] | None = None
    times: int | None = Field(default=None, ge=0)


class SellerIn(ControlBody):
    login: str = Field(min_length=1)
    token: str = Field(min_length=1)
    quota_per_hour: int | None = Field(default=None, ge=0)
    files_per_hour: int | None = Field(default=None, ge=0)
    acceptance_deadline_hours: float | None = Field(default=None, gt=0)


class SellerPatch(ControlBody):
    token: str | None = Field(default=None, min_length=1)
    quota_per_hour: int | None = Field(default=None, ge=0)
    files_per_hour: int | None = Field(default=None, ge=0)
    acceptance_deadline_hours: float | None = Field(default=None, gt=0)


class ItemIn(ControlBody):
    sku: str = ""
    headline: str = "Article"
    price: Decimal = Decimal("10.00")
    status: str = "TO_CONFIRM"
    is_nego: bool = False
    is_preorder: bool = False
    quantity: int = Field(default=1, ge=1, le=100)
    item_id: str | None = None
    advert_id: str | None = None


class SaleIn(ControlBody):
    purchase_id: str | None = None
    purchased_at: datetime | None = None
    age_minutes: float = Field(default=5.0, ge=0)
    shipping_type: str = "Suivi"
    buyer_login: str = "acheteur"
    buyer_email: str = "acheteur@example.fr"
    delivery_address: SbAddress | None = None
    billing_address: SbAddress | None = None
    relay_point: SbRelayPoint | None = None
    items: list[ItemIn] = Field(min_length=1)


class MessageIn(ControlBody):
    content: str = Field(min_length=1)
    sender: str = "buyer"


class SalesIn(ControlBody):
    sales: list[SaleIn] = Field(min_length=1)


class AdvertIn(ControlBody):
    sku: str
    stock: int = Field(ge=0)
    price: Decimal = Decimal("10.00")
    advert_id: str | None = None
    quality: str = "N"


class GenerateInventory(ControlBody):
    count: int = Field(ge=0, le=1_000_000)
    seed: int = 0
    prefix: str = "SKU-"
    max_stock: int = Field(default=50, ge=0)


class InventoryIn(ControlBody):
    adverts: list[AdvertIn] = Field(default_factory=list)
    generate: GenerateInventory | None = None


class ClockIn(ControlBody):
    advance_seconds: float


class SettingsIn(ControlBody):
    upload_delay_seconds: float | None = Field(default=None, ge=0)
    sales_page_size: int | None = Field(default=None, ge=1)
    export_page_size: int | None = Field(default=None, ge=1)
    report_page_size: int | None = Field(default=None, ge=1)
