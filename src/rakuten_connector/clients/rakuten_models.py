"""Typed results of the Rakuten client. No XML escapes the client: these are what callers get.

Statuses and shipping types stay the raw strings Rakuten sent, only trimmed (unknown values are kept, never
rejected; `So   Colissimo` stays as it came): whoever compares them uses `normalize_label`, and the mapping
its own key. The sets below name the known values. Dates are aware UTC datetimes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# itemstatus values.
WAITING_STATUSES = frozenset({"TO_CONFIRM", "REQUESTED", "REMINDED"})
ACCEPTED_STATUSES = frozenset({"ACCEPTED", "COMMITTED"})
# Statuses an item only reaches after it was accepted: accepting it again is pointless.
ACCEPTED_OR_LATER_STATUSES = ACCEPTED_STATUSES | frozenset({"ON_HOLD", "PENDING_CLAIM", "CLAIM", "CLOSED"})
CLAIM_STATUSES = frozenset({"ON_HOLD", "PENDING_CLAIM", "CLAIM"})
KNOWN_ITEM_STATUSES = (
    WAITING_STATUSES | ACCEPTED_OR_LATER_STATUSES | frozenset({"REFUSED", "CANCELLED", "PENDING"})
)

# shippingtype values, exact strings.
KNOWN_SHIPPING_TYPES = (
    "Normal",
    "Suivi",
    "Recommandé",
    "Express",
    "So Colissimo",
    "Chronopost",
    "Point relais Mondial Relay",
    "Relai Kiala",
    "Retrait chez le vendeur",
    "EN TÉLÉCHARGEMENT",
)

# genericimportreport file statuses after which Rakuten will not change the file any more.
FINAL_FILE_STATUSES = frozenset({"traité", "annulé"})
PRODUCT_OK_STATUS = "traité"


def normalize_label(value: str) -> str:
    """How Rakuten labels are compared: Unicode NFKC (no-break spaces become spaces), trimmed, inner
    whitespace collapsed to one space (Rakuten once answered `So   Colissimo`), case folded."""
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


class ItemOutcome(StrEnum):
    """What a per-item action did. Both values mean the item is now in the wanted state."""

    DONE = "done"
    ALREADY_DONE = "already_done"


@dataclass(frozen=True, slots=True)
class Address:
    civility: str
    first_name: str
    last_name: str
    address1: str
    address2: str
    zipcode: str
    city: str
    country: str
    country_alpha2: str  # `FX` (metropolitan France) already mapped to `FR`
    phone1: str
    phone2: str
    country_alpha2_raw: str = ""


@dataclass(frozen=True, slots=True)
class RelayPoint:
    id: str
    name: str
    address: str
    zipcode: str
    city: str
    country: str
    civility: str = ""
    first_name: str = ""
    last_name: str = ""
    contract_level: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """One unit: two units of a SKU are two items (no quantity element)."""

    item_id: str
    sku: str  # may be '' (the seller set no reference)
    advert_id: str
    headline: str
    status: str
    is_nego: bool
    price: Decimal | None
    currency: str = "EUR"
    is_preorder: bool = False
    ean: str = ""
    payment_status: str = ""

    @property
    def is_waiting(self) -> bool:
        return self.status in WAITING_STATUSES


@dataclass(frozen=True, slots=True)
class Sale:
    purchase_id: str
    purchased_at: datetime | None  # None when Rakuten's date could not be read (see purchase_date_raw)
    shipping_type: str
    delivery_address: Address | None
    billing_address: Address | None
    relay_point: RelayPoint | None
    buyer_email: str
    buyer_login: str
    items: tuple[Item, ...]
    purchase_date_raw: str = ""

    @property
    def waiting_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.is_waiting)


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """getiteminfos: the item's current status, and whether Rakuten says it was shipped.

    That is all the answer gives to decide on: it has no tracking field (and no purchase or SKU).
    `shipped` is None when the answer has no `shipped` element (Rakuten only sometimes sends it).
    """

    item_id: str
    status: str
    shipped: bool | None = None


@dataclass(frozen=True, slots=True)
class Advert:
    advert_id: str
    sku: str
    stock: int | None
    price: Decimal | None
    quality: str = ""
    unlimited_quantity: bool = False


@dataclass(frozen=True, slots=True)
class ImportFileResult:
    import_id: str
    status: str = ""


# genericimportreport error code of a line whose SKU has no offer on Rakuten (error_key `alias`,
# "L'alias est obligatoire pour les créations de produit."): the SKU is unknown there.
NO_OFFER_ERROR_CODE = "60"


@dataclass(frozen=True, slots=True)
class ProductError:
    """One `errors/error` of a report line: `error_key`, `error_code`, `error_text`, trimmed."""

    key: str
    code: str
    text: str


@dataclass(frozen=True, slots=True)
class ProductReport:
    """One line (one SKU) of a genericimportreport."""

    sku: str
    status: str  # raw: `Traité` or `Erreur`
    ok: bool
    errors: tuple[ProductError, ...] = ()
    pid: str = ""
    aid: str = ""

    @property
    def error_codes(self) -> tuple[str, ...]:
        return tuple(error.code for error in self.errors)

    @property
    def no_offer(self) -> bool:
        """Refused because no offer on Rakuten has this SKU (error code 60)."""
        return NO_OFFER_ERROR_CODE in self.error_codes


@dataclass(frozen=True, slots=True)
class ImportReport:
    """genericimportreport, all pages. `processed`: Rakuten is done with the file (Traité or Annulé)."""

    import_id: str
    file_status: str
    processed: bool
    file_name: str = ""
    total_lines: int | None = None
    processed_lines: int | None = None
    error_lines: int | None = None
    products: tuple[ProductReport, ...] = ()


@dataclass(frozen=True, slots=True)
class TrackingUpdate:
    item_id: str
    purchase_id: str
    transporter: str
    tracking_number: str
    tracking_url: str = ""
