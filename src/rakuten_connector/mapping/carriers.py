"""Rakuten `shippingtype` -> Cubyn delivery mode.

The table keeps Rakuten's exact strings; lookups compare them after Unicode normalization, accent
removal, case folding and whitespace collapsing, so `"  recommande "` finds `Recommandé`. Any other
string is an explicit `ShippingTypeUnavailable` carrying the Rakuten string: the order is not imported.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rakuten_connector.clients.cubyn_models import DeliveryMode


@dataclass(frozen=True)
class CarrierMapping:
    """One row of the table, as served by `GET /v1/carrier-mappings`."""

    label: str  # what the merchant sees in Rakuten's back office
    rakuten_shipping_type: str  # Rakuten's exact API string
    delivery_mode: DeliveryMode | None  # None: not available on Cubyn
    delivery_signed: bool = False

    @property
    def available(self) -> bool:
        return self.delivery_mode is not None


@dataclass(frozen=True)
class ShippingTypeMapped:
    shipping_type: str
    delivery_mode: DeliveryMode
    delivery_signed: bool

    @property
    def needs_relay_point(self) -> bool:
        return self.delivery_mode is DeliveryMode.RELAY


@dataclass(frozen=True)
class ShippingTypeUnavailable:
    shipping_type: str
    reason: str


CARRIER_MAPPINGS: tuple[CarrierMapping, ...] = (
    CarrierMapping("Standard", "Normal", DeliveryMode.STANDARD),
    CarrierMapping("With tracking", "Suivi", DeliveryMode.STANDARD),
    CarrierMapping("By registered post", "Recommandé", DeliveryMode.STANDARD, delivery_signed=True),
    CarrierMapping("Express delivery", "Express", DeliveryMode.EXPRESS),
    CarrierMapping("Mondial Relay", "Point relais Mondial Relay", DeliveryMode.RELAY),
    CarrierMapping("So Colissimo", "So Colissimo", None),
    CarrierMapping("Chronopost", "Chronopost", None),
    CarrierMapping("Kiala relay", "Relai Kiala", None),
    CarrierMapping("Local pickup", "Retrait chez le vendeur", None),
    CarrierMapping("Download", "EN TÉLÉCHARGEMENT", None),
    # Newer Rakuten modes whose exact API strings are not published: listed for
    # the merchant; whatever their real string is, it is unmapped like any unknown one.
    CarrierMapping("Shop2Shop by Chronopost", "Shop2Shop by Chronopost", None),
    CarrierMapping("Local pickup in store", "Click and Collect", None),
)


def normalize_shipping_type(value: str) -> str:
    """Comparison key: NFKD without combining marks, case-folded, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", value)
    without_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(without_accents.casefold().split())


_BY_KEY: dict[str, CarrierMapping] = {
    normalize_shipping_type(m.rakuten_shipping_type): m for m in CARRIER_MAPPINGS
}


def map_shipping_type(shipping_type: str | None) -> ShippingTypeMapped | ShippingTypeUnavailable:
    """The Cubyn delivery mode for a Rakuten shipping type, or why there is none."""
    raw = shipping_type or ""
    row = _BY_KEY.get(normalize_shipping_type(raw))
    if row is None or row.delivery_mode is None:
        shown = raw.strip() or "(none)"
        reason = f'The Rakuten delivery mode "{shown}" is not available with Cubyn fulfilment.'
        return ShippingTypeUnavailable(shipping_type=raw, reason=reason)
    return ShippingTypeMapped(
        shipping_type=row.rakuten_shipping_type,
        delivery_mode=row.delivery_mode,
        delivery_signed=row.delivery_signed,
    )


def carrier_mapping_rows() -> tuple[CarrierMapping, ...]:
    return CARRIER_MAPPINGS
