"""The XML files the client uploads, built with lxml (escaped)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from lxml import etree

from rakuten_connector.clients.rakuten_models import TrackingUpdate


def _value(parent: etree._Element, tag: str, value: str) -> etree._Element:
    element = etree.SubElement(parent, tag)
    # CDATA like Rakuten's own samples, unless the value cannot live in one.
    element.text = value if "]]>" in value or not value else etree.CDATA(value)
    return element


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def build_stock_file(quantities: Mapping[str, int]) -> bytes:
    """genericimportfile: one `<item>` per SKU with its new quantity (`sellerReference`, `qty`).

    Written incrementally (no tree in memory): a 50,000-SKU file costs its bytes, not ~100 MB of nodes.
    """
    buffer = io.BytesIO()
    buffer.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    with etree.xmlfile(buffer, encoding="UTF-8") as xf, xf.element("items"):
        for sku, quantity in quantities.items():
            if not sku:
                raise ValueError("a stock update needs a SKU")
            if quantity < 0:
                raise ValueError(f"negative quantity for SKU {sku!r}")
            item = etree.Element("item")
            advert = etree.SubElement(etree.SubElement(item, "attributes"), "advert")
            for key, value in (("sellerReference", sku), ("qty", str(quantity))):
                attribute = etree.SubElement(advert, "attribute")
                etree.SubElement(attribute, "key").text = key
                _value(attribute, "value", value)
            xf.write(item, pretty_print=True)
    return buffer.getvalue()


def build_tracking_file(updates: Sequence[TrackingUpdate]) -> bytes:
    """importitemshippingstatus: one `<item>` per item id."""
    root = etree.Element("items")
    for update in updates:
        item = etree.SubElement(root, "item")
        etree.SubElement(item, "purchaseid").text = update.purchase_id
        etree.SubElement(item, "itemid").text = update.item_id
        _value(item, "transporter", update.transporter)
        _value(item, "trackingnumber", update.tracking_number)
        if update.tracking_url:
            _value(item, "trackingurl", update.tracking_url)
    return _serialize(root)
