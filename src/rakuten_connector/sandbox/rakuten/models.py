"""What the Rakuten sandbox's world is made of: sellers, sales, items, adverts and stock files, and the
web-service refusals (`WsError`, answered as `errorresponse` documents).

Sales and their parts are pydantic models with Rakuten's own field names (the control API takes and
answers them as they are); adverts, uploads and sellers are plain dataclasses.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

WAITING = frozenset({"TO_CONFIRM", "REQUESTED", "REMINDED"})
ACCEPTED = frozenset({"ACCEPTED", "COMMITTED"})
NEW_SALES_WINDOW = timedelta(hours=48)
MAX_FILE_BYTES = 30 * 1024 * 1024


class WsError(Exception):
    """An answer Rakuten gives as an `errorresponse`."""

    def __init__(
        self,
        code: str,
        message: str,
        details: list[str] | None = None,
        *,
        kind: str = "Sender",
        http_status: int = 200,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.details, self.kind, self.http_status = (
            code,
            message,
            details or [],
            kind,
            http_status,
        )


def parameter_error(message: str, *details: str) -> WsError:
    return WsError("ParameterError", message, list(details))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SbAddress(_Model):
    """An address block, with Rakuten's own element names."""

    civility: str = ""
    firstname: str = ""
    lastname: str = ""
    address1: str = ""
    address2: str = ""
    zipcode: str = ""
    city: str = ""
    country: str = "France"
    countryalpha2: str = "FX"
    phonenumber1: str = ""
    phonenumber2: str = ""


class SbRelayPoint(_Model):
    id: str
    name: str
    address: str = ""
    zipcode: str = ""
    city: str = ""
    country: str = "France"
    civility: str = ""
    firstname: str = ""
    lastname: str = ""
    contractlevel: str = ""


class SbTracking(_Model):
    transporter: str
    number: str
    url: str = ""


class SbMessage(_Model):
    """A message about an item (from the buyer, by default). getiteminfos marks it read, as on Rakuten."""

    content: str
    sender: str = "buyer"
    sent_at: datetime
    read: bool = False


class SbItem(_Model):
    item_id: str
    sku: str = ""
    advert_id: str = ""
    headline: str = ""
    status: str = "TO_CONFIRM"
    price: Decimal = Decimal("10.00")
    is_nego: bool = False
    is_preorder: bool = False
    ean: str = ""
    payment_status: str = "INCOMING"
    tracking: SbTracking | None = None
    shipping_from_country: str | None = None
    cancel_comment: str | None = None
    messages: list[SbMessage] = Field(default_factory=list)


class SbSale(_Model):
    purchase_id: str
    purchased_at: datetime
    shipping_type: str = "Suivi"
    buyer_login: str = ""
    buyer_email: str = ""
    delivery_address: SbAddress | None = None
    billing_address: SbAddress | None = None
    relay_point: SbRelayPoint | None = None
    items: list[SbItem] = Field(default_factory=list)


@dataclass(slots=True)
class SbAdvert:
    advert_id: str
    sku: str
    stock: int
    price: Decimal = Decimal("10.00")
    quality: str = "N"


@dataclass
class SbProductResult:
    sku: str
    status: str  # Traité | Erreur
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # (key, code, text)
    advert_id: str = ""


@dataclass
class SbUpload:
    import_id: str
    filename: str
    received_at: datetime
    lines: list[tuple[str, str]]  # (sellerReference, qty) as sent
    processed_at: datetime | None = None
    results: list[SbProductResult] = field(default_factory=list)

    def status(self, now: datetime, delay: timedelta) -> str:
        if self.processed_at is not None:
            return "Traité"
        return "Reçu" if now - self.received_at < delay / 2 else "En attente"


@dataclass
class Seller:
    login: str
    token: str
    seller_id: str
    quota_per_hour: int | None = None
    files_per_hour: int = 10
    acceptance_deadline_hours: float = 48.0
    sales: dict[str, SbSale] = field(default_factory=dict)
    items: dict[str, tuple[SbSale, SbItem]] = field(default_factory=dict)
    adverts: list[SbAdvert] = field(default_factory=list)
    adverts_by_sku: dict[str, SbAdvert] = field(default_factory=dict)
    uploads: dict[str, SbUpload] = field(default_factory=dict)
    calls_per_hour: dict[str, int] = field(default_factory=dict)
    files_this_hour: dict[str, int] = field(default_factory=dict)


def encode_token(kind: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{offset}".encode()).decode().rstrip("=")


def decode_token(kind: str, token: str) -> int:
    if not token:
        return 0
    try:
        prefix, _, offset = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().partition(":")
        if prefix == kind and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise parameter_error("Invalid nexttoken.", f"nexttoken {token!r} is unknown")
