"""Rakuten `shippingtype` -> what Cubyn does with the sale: a delivery mode, or not imported.

The default table keeps Rakuten's exact strings. A connection may override it with its own carrier
choices (`CarrierChoices`, keyed by `normalize_shipping_type`), for a known type or for any other string
(sellers define their own modes, e.g. `Mode personnalisé 1`). Lookups and the choices' keys use the same
normalization: Unicode compatibility decomposition, accents removed, case folded, whitespace trimmed and
collapsed, so `"  recommande "` finds `Recommandé`.

Rules, in the order they are evaluated:
1. the connection's choice for the type, if it has one;
2. the default table;
3. anything else is not imported.
`NOT_IMPORTED` (chosen or by default) is an explicit `ShippingTypeUnavailable` with a reason a merchant
can read. `RELAY` can only be chosen for a type whose sales carry a Mondial Relay point (`relay_refusal`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from rakuten_connector.clients.cubyn_models import DeliveryMode

SHIPPING_TYPE_MAX = 128  # a shipping type as an order keeps it, and a choice's normalized key


class CarrierChoiceValue(StrEnum):
    """What a Rakuten delivery mode becomes at Cubyn."""

    STANDARD = "STANDARD"
    STANDARD_SIGNED = "STANDARD_SIGNED"  # Cubyn Standard Contre Signature
    EXPRESS = "EXPRESS"
    RELAY = "RELAY"
    NOT_IMPORTED = "NOT_IMPORTED"


class ChoiceSource(StrEnum):
    DEFAULT = "default"
    CONNECTION = "connection"


# Normalized shipping type -> the connection's choice for it.
CarrierChoices = Mapping[str, CarrierChoiceValue]

_DELIVERIES: dict[CarrierChoiceValue, tuple[DeliveryMode, bool]] = {
    CarrierChoiceValue.STANDARD: (DeliveryMode.STANDARD, False),
    CarrierChoiceValue.STANDARD_SIGNED: (DeliveryMode.STANDARD, True),
    CarrierChoiceValue.EXPRESS: (DeliveryMode.EXPRESS, False),
    CarrierChoiceValue.RELAY: (DeliveryMode.RELAY, False),
}


def choice_of(delivery_mode: DeliveryMode | None, delivery_signed: bool) -> CarrierChoiceValue:
    if delivery_mode is None:
        return CarrierChoiceValue.NOT_IMPORTED
    if delivery_mode is DeliveryMode.STANDARD and delivery_signed:
        return CarrierChoiceValue.STANDARD_SIGNED
    return CarrierChoiceValue(delivery_mode.value)


@dataclass(frozen=True)
class CarrierMapping:
    """One row of the default table, as served by `GET /v1/carrier-mappings`."""

    label: str  # what the merchant sees in Rakuten's back office
    rakuten_shipping_type: str  # Rakuten's exact API string
    delivery_mode: DeliveryMode | None  # None: not available on Cubyn by default
    delivery_signed: bool = False
    # Prepaid modes (So Colissimo, Chronopost): the sales carry only the billing address, the recipient's.
    prepaid: bool = False
    # The sales carry a Mondial Relay point: the only ones Cubyn Relay can deliver.
    mondial_relay_point: bool = False

    @property
    def available(self) -> bool:
        return self.delivery_mode is not None

    @property
    def default_choice(self) -> CarrierChoiceValue:
        return choice_of(self.delivery_mode, self.delivery_signed)

    @property
    def recipient_from_billing(self) -> bool:
        """Its sales name the recipient in the billing address: prepaid modes carry no other, relay modes
        carry a relay point next to it (never the recipient's address), whatever Cubyn mode is chosen."""
        return self.prepaid or self.mondial_relay_point


@dataclass(frozen=True)
class ShippingTypeMapped:
    shipping_type: str
    delivery_mode: DeliveryMode
    delivery_signed: bool
    source: ChoiceSource = ChoiceSource.DEFAULT
    # The recipient is the billing address (prepaid and relay modes); otherwise the delivery address first.
    recipient_from_billing: bool = False

    @property
    def needs_relay_point(self) -> bool:
        return self.delivery_mode is DeliveryMode.RELAY

    @property
    def choice(self) -> CarrierChoiceValue:
        return choice_of(self.delivery_mode, self.delivery_signed)


@dataclass(frozen=True)
class ShippingTypeUnavailable:
    shipping_type: str
    reason: str


CARRIER_MAPPINGS: tuple[CarrierMapping, ...] = (
    CarrierMapping("Standard", "Normal", DeliveryMode.STANDARD),
    CarrierMapping("With tracking", "Suivi", DeliveryMode.STANDARD),
    CarrierMapping("By registered post", "Recommandé", DeliveryMode.STANDARD, delivery_signed=True),
    CarrierMapping("Express delivery", "Express", DeliveryMode.EXPRESS),
    CarrierMapping("Mondial Relay", "Point relais Mondial Relay", DeliveryMode.RELAY, mondial_relay_point=True),
    CarrierMapping("So Colissimo", "So Colissimo", None, prepaid=True),
    CarrierMapping("Chronopost", "Chronopost", None, prepaid=True),
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


def default_row(shipping_type: str) -> CarrierMapping | None:
    """The default table's row for a shipping type (any spelling), None for a type it does not know."""
    return _BY_KEY.get(normalize_shipping_type(shipping_type))


def allowed_choices(shipping_type: str) -> tuple[CarrierChoiceValue, ...]:
    """What a connection may choose for a shipping type: RELAY only where the sales carry a relay point."""
    row = default_row(shipping_type)
    if row is not None and row.mondial_relay_point:
        return tuple(CarrierChoiceValue)
    return tuple(c for c in CarrierChoiceValue if c is not CarrierChoiceValue.RELAY)


def relay_refusal(shipping_type: str, choice: CarrierChoiceValue) -> str | None:
    """Why `choice` cannot be made for `shipping_type`, or None when it can."""
    if choice in allowed_choices(shipping_type):
        return None
    return (
        f'Cubyn Relay needs a Mondial Relay point, which sales delivered by "{shipping_type.strip()}" do not '
        "carry: choose STANDARD, STANDARD_SIGNED, EXPRESS or NOT_IMPORTED."
    )


def _shown(raw: str) -> str:
    return " ".join(raw.split()) or "(none)"


def _unavailable_reason(raw: str) -> str:
    return (
        f'The Rakuten delivery mode "{_shown(raw)}" is not available with Cubyn fulfilment by default: '
        "choose a Cubyn delivery mode for it in the connection's carrier mappings to import these orders."
    )


def _not_imported_reason(raw: str) -> str:
    return (
        f'Orders with the Rakuten delivery mode "{_shown(raw)}" are not imported: so says the connection\'s '
        "carrier mapping for it (NOT_IMPORTED)."
    )


def is_shipping_type_reason(reason: str | None, shipping_type: str | None) -> bool:
    """Whether `reason` is the skip this module gives for `shipping_type` (by default or by choice)."""
    raw = shipping_type or ""
    return reason in (_unavailable_reason(raw), _not_imported_reason(raw))


def map_shipping_type(
    shipping_type: str | None, choices: CarrierChoices | None = None
) -> ShippingTypeMapped | ShippingTypeUnavailable:
    """The Cubyn delivery mode for a Rakuten shipping type under a connection's choices, or why there is
    none. A choice of RELAY for a type without relay points is ignored (the default applies)."""
    raw = shipping_type or ""
    key = normalize_shipping_type(raw)
    row = _BY_KEY.get(key)
    chosen = (choices or {}).get(key)
    if chosen is not None and relay_refusal(raw, chosen) is not None:
        chosen = None
    if chosen is None:
        choice, source = (row.default_choice if row else CarrierChoiceValue.NOT_IMPORTED), ChoiceSource.DEFAULT
    else:
        choice, source = chosen, ChoiceSource.CONNECTION
    if choice is CarrierChoiceValue.NOT_IMPORTED:
        reason = _not_imported_reason(raw) if source is ChoiceSource.CONNECTION else _unavailable_reason(raw)
        return ShippingTypeUnavailable(shipping_type=raw, reason=reason)
    mode, signed = _DELIVERIES[choice]
    return ShippingTypeMapped(
        shipping_type=row.rakuten_shipping_type if row else " ".join(raw.split()),
        delivery_mode=mode,
        delivery_signed=signed,
        source=source,
        recipient_from_billing=row is not None and row.recipient_from_billing,
    )


def carrier_mapping_rows() -> tuple[CarrierMapping, ...]:
    return CARRIER_MAPPINGS


@dataclass(frozen=True)
class ChosenCarrier:
    """A connection's choice, with the shipping type as the merchant wrote it."""

    shipping_type: str
    choice: CarrierChoiceValue


@dataclass(frozen=True)
class EffectiveCarrier:
    """One row of a connection's effective table."""

    shipping_type: str
    cubyn: CarrierChoiceValue
    source: ChoiceSource
    label: str | None  # the merchant's label of a known Rakuten mode; None for the seller's own modes
    default: CarrierChoiceValue
    allowed: tuple[CarrierChoiceValue, ...]
    seen: bool  # the connection has orders with this shipping type


def effective_table(chosen: Mapping[str, ChosenCarrier], seen: Iterable[str]) -> list[EffectiveCarrier]:
    """Every known Rakuten type (in table order), then every other type the connection has seen in its
    sales or has a choice for (by key); spellings of one type give one row. `chosen` is keyed by
    `normalize_shipping_type`; `seen` are shipping types as Rakuten sent them."""
    seen_by_key: dict[str, str] = {}
    for shipping_type in sorted(seen):
        key = normalize_shipping_type(shipping_type)
        if key:
            seen_by_key.setdefault(key, " ".join(shipping_type.split()))
    names = {
        normalize_shipping_type(row.rakuten_shipping_type): row.rakuten_shipping_type for row in CARRIER_MAPPINGS
    }
    others = sorted((set(seen_by_key) | set(chosen)) - set(names))
    for key in others:
        names[key] = chosen[key].shipping_type if key in chosen else seen_by_key[key]
    rows = []
    for key, shipping_type in names.items():
        row = _BY_KEY.get(key)
        default = row.default_choice if row else CarrierChoiceValue.NOT_IMPORTED
        choice = chosen.get(key)
        rows.append(
            EffectiveCarrier(
                shipping_type=shipping_type,
                cubyn=choice.choice if choice else default,
                source=ChoiceSource.CONNECTION if choice else ChoiceSource.DEFAULT,
                label=row.label if row else None,
                default=default,
                allowed=allowed_choices(shipping_type),
                seen=key in seen_by_key,
            )
        )
    return rows
