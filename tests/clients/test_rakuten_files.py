"""The files the Rakuten client uploads: stock offers and tracking lines, escaped and in the contract's shape."""

from __future__ import annotations

import pytest
from lxml import etree

from rakuten_connector.clients.rakuten_files import build_stock_file, build_tracking_file
from rakuten_connector.clients.rakuten_models import TrackingUpdate


def test_stock_file_round_trip_escapes_everything() -> None:
    content = build_stock_file({"SKU-1": 12, "A&B <c> ]]> é": 0})
    root = etree.fromstring(content)
    values = [(a.findtext("attribute[1]/value"), a.findtext("attribute[2]/value")) for a in root.iter("advert")]
    assert values == [("SKU-1", "12"), ("A&B <c> ]]> é", "0")]
    assert [k.text for k in root.iter("key")] == ["sellerReference", "qty"] * 2
    with pytest.raises(ValueError, match="negative"):
        build_stock_file({"SKU": -1})


def test_tracking_file() -> None:
    content = build_tracking_file([TrackingUpdate("260306083", "31862101", "Cubyn", "CUB123", "https://t/CUB123")])
    item = etree.fromstring(content).find("item")
    assert item is not None
    assert [(e.tag, e.text) for e in item] == [
        ("purchaseid", "31862101"),
        ("itemid", "260306083"),
        ("transporter", "Cubyn"),
        ("trackingnumber", "CUB123"),
        ("trackingurl", "https://t/CUB123"),
    ]
