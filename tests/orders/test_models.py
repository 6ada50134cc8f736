"""Order rows: labels Rakuten and Cubyn send are clipped to their columns, and an order's Cubyn
reference is its purchase id."""

from __future__ import annotations

from rakuten_connector.orders.models import Order, OrderItem


def test_labels_are_clipped_to_their_columns() -> None:
    order = Order(shipping_type="Livraison " * 40, parcel_status="S" * 100)
    item = OrderItem(rakuten_status="X" * 100)
    assert (len(order.shipping_type or ""), len(order.parcel_status or ""), len(item.rakuten_status)) == (
        128,
        64,
        64,
    )
    order.parcel_status = None
    assert order.parcel_status is None


def test_the_order_ref_is_the_purchase_id_with_the_rakuten_prefix() -> None:
    assert Order(purchase_id="31862101").order_ref == "RAKUTEN-31862101"
