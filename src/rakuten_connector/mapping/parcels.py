"""A Rakuten sale -> a Cubyn create-parcel request, or a skip with a reason a merchant can read.

Rules: only the items waiting for acceptance go into the parcel, summed per SKU
(one Rakuten item is one unit); one parcel per purchase, `orderRef` `RAKUTEN-<purchaseid>`. Checked in this
order, the first failing rule gives the skip: no waiting item left, unmapped shipping type, waiting item
without SKU, negotiation pending, unmappable address or relay point.

Who receives it: home modes ship to `delivery_address` (the billing address when it is missing); relay
sales take the recipient's name, address and phone from `billing_address` (Rakuten usually sends no
delivery address for them) and the relay point from `relay_point`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rakuten_connector.clients.cubyn_models import DeliveryMode, ParcelItem, ParcelRequest
from rakuten_connector.mapping.addresses import AddressUnmappable, map_recipient, map_relay_point
from rakuten_connector.mapping.carriers import ShippingTypeUnavailable, map_shipping_type
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


@dataclass(frozen=True)
class ParcelPlan:
    """What to send to Cubyn for a sale, and which Rakuten items it covers."""

    request: ParcelRequest
    item_ids: tuple[str, ...]  # the waiting items, to accept / track / refuse later
    notes: tuple[str, ...] = ()  # adjustments made to fit Cubyn (shortened names), for the timeline

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


def sale_to_parcel(sale: RakutenSale) -> ParcelPlan | SaleSkipped:
    """The parcel to create for `sale`, or why it is not imported. Never raises on odd input."""
    items = waiting_items(sale)
    if not items:
        return SaleSkipped(SkipCode.NO_WAITING_ITEM, "No item of this sale is waiting for acceptance any more.")
    shipping = map_shipping_type(sale.shipping_type)
    if isinstance(shipping, ShippingTypeUnavailable):
        return SaleSkipped(SkipCode.SHIPPING_TYPE_UNAVAILABLE, shipping.reason)
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

    relay_sale = shipping.needs_relay_point
    address = sale.billing_address if relay_sale else (sale.delivery_address or sale.billing_address)
    if relay_sale and address is None:
        address = sale.delivery_address
    recipient = map_recipient(address, sale.buyer_email)
    if isinstance(recipient, AddressUnmappable):
        return SaleSkipped(SkipCode.ADDRESS_UNMAPPABLE, recipient.reason)
    relay_point = None
    if relay_sale:
        relay = map_relay_point(sale.relay_point, recipient.address.country)
        if isinstance(relay, AddressUnmappable):
            return SaleSkipped(SkipCode.ADDRESS_UNMAPPABLE, relay.reason)
        relay_point = relay

    quantities: dict[str, int] = {}
    for item in items:
        sku = (item.sku or "").strip()
        quantities[sku] = quantities.get(sku, 0) + 1
    request = ParcelRequest(
        order_ref=order_ref(sale.purchase_id),
        first_name=recipient.first_name,
        last_name=recipient.last_name,
        organization_name=None,
        email=recipient.email,
        phone=recipient.phone,
        address=recipient.address,
        delivery_mode=DeliveryMode(shipping.delivery_mode).value,
        delivery_signed=shipping.delivery_signed,
        relay_point=relay_point,
        items=tuple(ParcelItem(sku=sku, quantity=qty) for sku, qty in quantities.items()),
    )
    return ParcelPlan(request=request, item_ids=tuple(item.item_id for item in items), notes=recipient.notes)
