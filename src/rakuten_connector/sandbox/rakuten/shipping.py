"""Which address blocks a Rakuten sale carries, by shipping type, as the sandbox renders them.

Shipping types are compared as Rakuten's are: after Unicode normalization, trimming, collapsing inner
whitespace and case folding, so `So   Colissimo` is So Colissimo. Any string is a shipping type: a seller's
own mode (`Mode personnalisé 1`) or an unknown newer one is a home delivery unless listed below.
- home delivery: `deliveryaddress` (generated sales add the buyer's `billingaddress`);
- relay: `collectionpointaddress` and `billingaddress`, no `deliveryaddress`;
- prepaid (So Colissimo, Chronopost) and the other billing-only modes: only `billingaddress`; a So
  Colissimo sale may also carry a `collectionpointaddress`.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class AddressBlocks(StrEnum):
    HOME = "home"
    RELAY = "relay"
    BILLING_ONLY = "billing_only"


def shipping_key(shipping_type: str) -> str:
    """The comparison key of a shipping type: NFKC, trimmed, inner whitespace collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFKC", shipping_type).split()).casefold()


_RELAY = frozenset(map(shipping_key, ("Point relais Mondial Relay", "Relai Kiala", "Shop2Shop by Chronopost")))
_BILLING_ONLY = frozenset(
    map(
        shipping_key,
        ("So Colissimo", "Chronopost", "Retrait chez le vendeur", "EN TÉLÉCHARGEMENT", "Click and Collect"),
    )
)
# Billing-only modes whose sales may also name a collection point.
_MAY_NAME_A_RELAY = frozenset({shipping_key("So Colissimo")})


def address_blocks(shipping_type: str) -> AddressBlocks:
    key = shipping_key(shipping_type)
    if key in _RELAY:
        return AddressBlocks.RELAY
    if key in _BILLING_ONLY:
        return AddressBlocks.BILLING_ONLY
    return AddressBlocks.HOME


def may_name_a_relay(shipping_type: str) -> bool:
    """A billing-only mode that may also carry a `collectionpointaddress` (So Colissimo)."""
    return shipping_key(shipping_type) in _MAY_NAME_A_RELAY
