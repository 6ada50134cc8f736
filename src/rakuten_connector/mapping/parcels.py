"""A Rakuten sale -> a Cubyn create-parcel request, or a skip with a reason a merchant can read.

Rules: only the items waiting for acceptance go into the parcel, summed per Cubyn SKU (one Rakuten item is
one unit); one parcel per purchase, `orderRef` `RAKUTEN-<purchaseid>`. Checked in this order, the first
failing rule gives the skip: no waiting item left, unmapped shipping type, waiting item without SKU,
negotiation pending, unmappable address or relay point.

The connection's rules (`ImportRules`) come in as arguments: its carrier choices override the default
table (`mapping.carriers`), and its SKU mappings send a Rakuten SKU to Cubyn as another SKU. A mapping is
looked up with the SKU exactly as Rakuten sent it, then trimmed (SKUs are case-sensitive); an item without
a mapping goes to Cubyn under its own SKU, trimmed.

Who receives it: home modes ship to `delivery_address` (the billing address when it is missing); relay
and prepaid sales (So Colissimo, Chronopost) take the recipient's name, address and phone from
`billing_address` (Rakuten usually sends no delivery address for them); a relay sale's point comes from
`relay_point`, which any other mode ignores (a So Colissimo sale may carry one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from rakuten_connector.clients.cubyn_models import ParcelItem, ParcelRequest, RelayPointRef
from rakuten_connector.mapping.addresses import (
    AddressUnmappable,
    CubynRecipient,
    map_recipient,
    map_relay_point,
    recipient_address,
)
from rakuten_connector.mapping.carriers import (
    CarrierChoices,
    ChoiceSource,
    ShippingTypeMapped,
    ShippingTypeUnavailable,
    map_shipping_type,
)
from rakuten_connector.mapping.types import RakutenItem, RakutenSale

WAITING_STATUSES = frozenset({"TO_CONFIRM", "REQUESTED", "REMINDED"})
ORDER_REF_PREFIX = "RAKUTEN-"


class SkipCode(StrEnum):
    NO_WAITING_ITEM = "no_waiting_item"
    SHIPPING_TYPE_UNAVAILABLE = "shipping_type_unavailable"
    EMPTY_SKU = "empty_sku"
    NEGOTIATION_PENDING = "negotiation_pending"
    ADDRESS_UNMAPPABLE = "address_unmappable"
    IDENTIFIER_TOO_LONG = "identifier_too_long"


_NOTHING: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class ImportRules:
    """A connection's rules for the import."""

    carrier_choices: CarrierChoices = field(default_factory=lambda: MappingProxyType({}))
    sku_mappings: Mapping[str, str] = field(default_factory=lambda: _NOTHING)  # Rakuten SKU -> Cubyn SKU

    def cubyn_sku(self, sku: str) -> str | None:
        """The Cubyn SKU a mapping gives this Rakuten SKU (as Rakuten sent it, else trimmed), or None."""
        mapped = self.sku_mappings.get(sku)
        return mapped if mapped is not None else self.sku_mappings.get(sku.strip())


DEFAULT_RULES = ImportRules()


@dataclass(frozen=True)
class ParcelPlan:
    """What to send to Cubyn for a sale, and which Rakuten items it covers."""

    request: ParcelRequest
    item_ids: tuple[str, ...]  # the waiting items, to accept / track / refuse later
    notes: tuple[str, ...] = ()  # adjustments made to fit Cubyn and rules applied, for the timeline
    cubyn_skus: Mapping[str, str] = field(default_factory=lambda: _NOTHING)  # item id -> mapped Cubyn SKU
    shipping: ShippingTypeMapped | None = None  # how the shipping type was mapped

    @property
    def order_ref(self) -> str:
        return self.request.order_ref


@dataclass(frozen=True)
class SaleSkipped:
    code: SkipCode
    reason: str


def order_ref(purchase_id: str) -> str:
    """The Cubyn orderRef of a Rakuten purchase (also its parcel's Idempotency-Key)."""
    return f"{ORDER_REF_PREFIX}{purchase_id.strip()}"


def purchase_of(ref: str | None) -> str | None:
    """The Rakuten purchase an orderRef of ours names; None for any other orderRef."""
    if ref is None or not ref.startswith(ORDER_REF_PREFIX):
        return None
    return ref.removeprefix(ORDER_REF_PREFIX)


def is_waiting(item: RakutenItem) -> bool:
    return (item.status or "").strip().upper() in WAITING_STATUSES


def waiting_items(sale: RakutenSale) -> list[RakutenItem]:
    return [item for item in sale.items if is_waiting(item)]


def _items_skip(items: Sequence[RakutenItem]) -> SaleSkipped | None:
    no_sku = [item.item_id for item in items if not (item.sku or "").strip()]
    if no_sku:
        return SaleSkipped(
            SkipCode.EMPTY_SKU,
            f"Item {', '.join(no_sku)} has no SKU (seller reference) on Rakuten: Cubyn cannot tell which product "
            "to ship. Set the SKU on the Rakuten offer.",
        )
    nego = [item.item_id for item in items if item.is_nego]
    if nego:
        return SaleSkipped(
            SkipCode.NEGOTIATION_PENDING,
            f"A price negotiation is pending for item {', '.join(nego)}: answer it on Rakuten first.",
        )
    return None


def _recipient(
    sale: RakutenSale, shipping: ShippingTypeMapped
) -> tuple[CubynRecipient, RelayPointRef | None] | SaleSkipped:
    from_billing = shipping.needs_relay_point or shipping.recipient_from_billing
    address = recipient_address(sale.delivery_address, sale.billing_address, from_billing=from_billing)
    recipient = map_recipient(address, sale.buyer_email)
    if isinstance(recipient, AddressUnmappable):
        return SaleSkipped(SkipCode.ADDRESS_UNMAPPABLE, recipient.reason)
    if not shipping.needs_relay_point:
        return recipient, None
    relay = map_relay_point(sale.relay_point, recipient.address.country)
    if isinstance(relay, AddressUnmappable):
        return SaleSkipped(SkipCode.ADDRESS_UNMAPPABLE, relay.reason)
    return recipient, relay


@dataclass(frozen=True)
class _Lines:
    items: tuple[ParcelItem, ...]
    cubyn_skus: dict[str, str]  # item id -> mapped Cubyn SKU
    notes: tuple[str, ...]


def _lines(items: Sequence[RakutenItem], rules: ImportRules) -> _Lines:
    """Parcel lines summed per Cubyn SKU, with the mappings used."""
    quantities: dict[str, int] = {}
    mapped: dict[str, str] = {}
    used: dict[str, str] = {}
    for item in items:
        rakuten_sku = item.sku or ""
        cubyn_sku = rules.cubyn_sku(rakuten_sku)
        if cubyn_sku is None:
            cubyn_sku = rakuten_sku.strip()
        else:
            mapped[item.item_id] = cubyn_sku
            used.setdefault(rakuten_sku, cubyn_sku)
        quantities[cubyn_sku] = quantities.get(cubyn_sku, 0) + 1
    notes = tuple(
        f'SKU "{rakuten}" is sent to Cubyn as "{cubyn}" (SKU mapping).' for rakuten, cubyn in used.items()
    )
    return _Lines(tuple(ParcelItem(sku=sku, quantity=qty) for sku, qty in quantities.items()), mapped, notes)


def _carrier_note(sale: RakutenSale, shipping: ShippingTypeMapped) -> tuple[str, ...]:
    if shipping.source is not ChoiceSource.CONNECTION:
        return ()
    shown = " ".join((sale.shipping_type or "").split())
    return (f'The Rakuten delivery mode "{shown}" is sent to Cubyn as {shipping.choice} (carrier mapping).',)


def sale_to_parcel(sale: RakutenSale, rules: ImportRules = DEFAULT_RULES) -> ParcelPlan | SaleSkipped:
    """The parcel to create for `sale` under the connection's rules, or why it is not imported. Never raises
    on odd input."""
    items = waiting_items(sale)
    if not items:
        return SaleSkipped(SkipCode.NO_WAITING_ITEM, "No item of this sale is waiting for acceptance any more.")
    shipping = map_shipping_type(sale.shipping_type, rules.carrier_choices)
    if isinstance(shipping, ShippingTypeUnavailable):
        return SaleSkipped(SkipCode.SHIPPING_TYPE_UNAVAILABLE, shipping.reason)
    skipped = _items_skip(items)
    if skipped is not None:
        return skipped
    who = _recipient(sale, shipping)
    if isinstance(who, SaleSkipped):
        return who
    recipient, relay_point = who
    lines = _lines(items, rules)
    request = ParcelRequest(
        order_ref=order_ref(sale.purchase_id),
        first_name=recipient.first_name,
        last_name=recipient.last_name,
        organization_name=None,
        email=recipient.email,
        phone=recipient.phone,
        address=recipient.address,
        delivery_mode=shipping.delivery_mode.value,
        delivery_signed=shipping.delivery_signed,
        relay_point=relay_point,
        items=lines.items,
    )
    return ParcelPlan(
        request=request,
        item_ids=tuple(item.item_id for item in items),
        notes=(*recipient.notes, *_carrier_note(sale, shipping), *lines.notes),
        cubyn_skus=lines.cubyn_skus,
        shipping=shipping,
    )
