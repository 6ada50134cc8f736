from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rakuten_connector.clients.cubyn_models import DeliveryMode
from rakuten_connector.mapping.carriers import (
    CARRIER_MAPPINGS,
    ShippingTypeMapped,
    ShippingTypeUnavailable,
    carrier_mapping_rows,
    map_shipping_type,
)

KNOWN = [
    ("Normal", DeliveryMode.STANDARD, False),
    ("Suivi", DeliveryMode.STANDARD, False),
    ("Recommandé", DeliveryMode.STANDARD, True),
    ("Express", DeliveryMode.EXPRESS, False),
    ("Point relais Mondial Relay", DeliveryMode.RELAY, False),
]
UNAVAILABLE = [
    "So Colissimo",
    "Chronopost",
    "Relai Kiala",
    "Retrait chez le vendeur",
    "EN TÉLÉCHARGEMENT",
    "Shop2Shop by Chronopost",
    "Click and Collect",
    "Colissimo",
    "Lettre suivie",
    "Normal express",
    "",
    "   ",
    "Point relais",
    "Mondial Relay",
]


@pytest.mark.parametrize(("shipping_type", "mode", "signed"), KNOWN)
def test_known_shipping_types_map_exactly(shipping_type: str, mode: DeliveryMode, signed: bool) -> None:
    result = map_shipping_type(shipping_type)
    assert result == ShippingTypeMapped(shipping_type, mode, signed)
    assert result.needs_relay_point is (mode is DeliveryMode.RELAY)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("normal", "Normal"),
        ("  NORMAL  ", "Normal"),
        ("suivi\n", "Suivi"),
        ("Recommande", "Recommandé"),
        ("RECOMMANDÉ", "Recommandé"),
        ("Recomman\u0064e\u0301", "Recommandé"),  # decomposed accent
        ("express", "Express"),
        ("point  relais\tmondial   relay", "Point relais Mondial Relay"),
        ("Point Relais Mondial Relay", "Point relais Mondial Relay"),
    ],
)
def test_lookup_ignores_case_accents_and_spacing(variant: str, expected: str) -> None:
    result = map_shipping_type(variant)
    assert isinstance(result, ShippingTypeMapped)
    assert result.shipping_type == expected


@pytest.mark.parametrize("shipping_type", [*UNAVAILABLE, None])
def test_anything_else_is_unavailable_with_the_rakuten_string(shipping_type: str | None) -> None:
    result = map_shipping_type(shipping_type)
    assert isinstance(result, ShippingTypeUnavailable)
    assert result.shipping_type == (shipping_type or "")
    assert "not available" in result.reason
    if shipping_type and shipping_type.strip():
        assert shipping_type.strip() in result.reason


def test_rows_cover_the_design_table() -> None:
    rows = {row.rakuten_shipping_type: row for row in carrier_mapping_rows()}
    for shipping_type, mode, signed in KNOWN:
        assert rows[shipping_type].delivery_mode is mode
        assert rows[shipping_type].delivery_signed is signed
        assert rows[shipping_type].available
    for shipping_type in ("So Colissimo", "Chronopost", "Retrait chez le vendeur"):
        assert not rows[shipping_type].available
    assert len(rows) == len(CARRIER_MAPPINGS)  # no duplicate strings


@given(st.text(max_size=40))
def test_never_raises_and_is_explicit(text: str) -> None:
    result = map_shipping_type(text)
    assert isinstance(result, ShippingTypeMapped | ShippingTypeUnavailable)
