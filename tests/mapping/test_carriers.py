from __future__ import annotations

import unicodedata
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rakuten_connector.clients.cubyn_models import DeliveryMode
from rakuten_connector.mapping.carriers import (
    CARRIER_MAPPINGS,
    CarrierChoiceValue,
    ChoiceSource,
    ChosenCarrier,
    ShippingTypeMapped,
    ShippingTypeUnavailable,
    allowed_choices,
    carrier_mapping_rows,
    effective_table,
    is_shipping_type_reason,
    map_shipping_type,
    normalize_shipping_type,
    relay_refusal,
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
    relay = mode is DeliveryMode.RELAY
    assert result == ShippingTypeMapped(shipping_type, mode, signed, recipient_from_billing=relay)
    assert result.needs_relay_point is relay


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


# -- a connection's choices ------------------------------------------------------------------------------


def test_each_default_row_has_its_choice() -> None:
    rows = {row.rakuten_shipping_type: row.default_choice for row in carrier_mapping_rows()}
    assert rows["Normal"] is rows["Suivi"] is CarrierChoiceValue.STANDARD
    assert rows["Recommandé"] is CarrierChoiceValue.STANDARD_SIGNED
    assert rows["Express"] is CarrierChoiceValue.EXPRESS
    assert rows["Point relais Mondial Relay"] is CarrierChoiceValue.RELAY
    assert rows["So Colissimo"] is rows["Chronopost"] is CarrierChoiceValue.NOT_IMPORTED


@pytest.mark.parametrize(
    ("choice", "mode", "signed"),
    [
        (CarrierChoiceValue.STANDARD, DeliveryMode.STANDARD, False),
        (CarrierChoiceValue.STANDARD_SIGNED, DeliveryMode.STANDARD, True),
        (CarrierChoiceValue.EXPRESS, DeliveryMode.EXPRESS, False),
    ],
)
def test_a_choice_overrides_the_default(choice: CarrierChoiceValue, mode: DeliveryMode, signed: bool) -> None:
    for shipping_type in ("So Colissimo", "Suivi", "Mode personnalisé 1"):
        result = map_shipping_type(shipping_type, {normalize_shipping_type(shipping_type): choice})
        assert isinstance(result, ShippingTypeMapped)
        assert (result.delivery_mode, result.delivery_signed, result.choice) == (mode, signed, choice)
        assert result.source is ChoiceSource.CONNECTION


def test_prepaid_modes_take_the_recipient_from_the_billing_address() -> None:
    for shipping_type in ("So Colissimo", "Chronopost"):
        result = map_shipping_type(
            shipping_type, {normalize_shipping_type(shipping_type): CarrierChoiceValue.EXPRESS}
        )
        assert isinstance(result, ShippingTypeMapped)
        assert result.recipient_from_billing
        assert result.shipping_type == shipping_type
    custom = map_shipping_type(" Mode  personnalisé 1 ", {"mode personnalise 1": CarrierChoiceValue.STANDARD})
    assert isinstance(custom, ShippingTypeMapped)
    assert (custom.recipient_from_billing, custom.shipping_type) == (False, "Mode personnalisé 1")


def test_not_imported_by_choice_says_so() -> None:
    result = map_shipping_type("Suivi", {"suivi": CarrierChoiceValue.NOT_IMPORTED})
    assert isinstance(result, ShippingTypeUnavailable)
    assert "not imported" in result.reason
    assert '"Suivi"' in result.reason
    assert is_shipping_type_reason(result.reason, "Suivi")
    default = map_shipping_type("So Colissimo")
    assert isinstance(default, ShippingTypeUnavailable)
    assert is_shipping_type_reason(default.reason, "So Colissimo")
    assert not is_shipping_type_reason(default.reason, "Chronopost")
    assert not is_shipping_type_reason("Item 1 has no SKU", "So Colissimo")


def test_choices_for_other_types_change_nothing() -> None:
    choices = {"so colissimo": CarrierChoiceValue.STANDARD}
    assert map_shipping_type("Suivi", choices) == map_shipping_type("Suivi")
    assert isinstance(map_shipping_type("Chronopost", choices), ShippingTypeUnavailable)


def test_relay_is_only_for_mondial_relay() -> None:
    assert CarrierChoiceValue.RELAY in allowed_choices("point relais  mondial relay")
    for shipping_type in ("So Colissimo", "Relai Kiala", "Suivi", "Mode personnalisé 1", "Mondial Relay"):
        assert CarrierChoiceValue.RELAY not in allowed_choices(shipping_type)
        refusal = relay_refusal(shipping_type, CarrierChoiceValue.RELAY)
        assert refusal is not None
        assert "Mondial Relay point" in refusal
        assert relay_refusal(shipping_type, CarrierChoiceValue.STANDARD) is None
    # A RELAY choice stored for a type without relay points is ignored: the default applies.
    assert isinstance(
        map_shipping_type("So Colissimo", {"so colissimo": CarrierChoiceValue.RELAY}), ShippingTypeUnavailable
    )
    relay = map_shipping_type(
        "Point relais Mondial Relay", {"point relais mondial relay": CarrierChoiceValue.STANDARD}
    )
    assert isinstance(relay, ShippingTypeMapped)
    assert (relay.delivery_mode, relay.needs_relay_point) == (DeliveryMode.STANDARD, False)


def _vary(text: str, data: st.DataObject) -> str:
    """The same shipping type as Rakuten or a merchant may spell it: case, spacing, Unicode form."""
    form: Literal["NFC", "NFD", "NFKC", "NFKD"] = data.draw(st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"]))
    spaces = st.text(alphabet=" \t\n\u00a0\u2003", min_size=1, max_size=3)
    cases = st.sampled_from(["upper", "lower", "keep"])
    words = [
        "".join({"upper": c.upper(), "lower": c.lower(), "keep": c}[data.draw(cases)] for c in word)
        for word in text.split(" ")
    ]
    inner = [data.draw(spaces) for _ in words[1:]]
    joined = words[0] + "".join(gap + word for gap, word in zip(inner, words[1:], strict=True))
    edges = st.text(alphabet=" \t\n\u00a0", max_size=3)
    return unicodedata.normalize(form, data.draw(edges) + joined + data.draw(edges))


KNOWN_TYPES = [row.rakuten_shipping_type for row in CARRIER_MAPPINGS] + ["Mode personnalisé 1"]


@given(st.sampled_from(KNOWN_TYPES), st.sampled_from(list(CarrierChoiceValue)), st.data())
def test_spellings_of_a_type_map_the_same(
    shipping_type: str, choice: CarrierChoiceValue, data: st.DataObject
) -> None:
    variant = _vary(shipping_type, data)
    assert normalize_shipping_type(variant) == normalize_shipping_type(shipping_type)
    base, varied = map_shipping_type(shipping_type), map_shipping_type(variant)
    if isinstance(base, ShippingTypeMapped):
        assert varied == base
    else:
        assert isinstance(varied, ShippingTypeUnavailable)  # its reason shows the spelling Rakuten sent
    # A choice made with one spelling applies to every other.
    chosen = {normalize_shipping_type(_vary(shipping_type, data)): choice}
    by_variant, by_exact = map_shipping_type(variant, chosen), map_shipping_type(shipping_type, chosen)
    assert type(by_variant) is type(by_exact)
    if isinstance(by_variant, ShippingTypeMapped) and isinstance(by_exact, ShippingTypeMapped):
        assert (by_variant.delivery_mode, by_variant.delivery_signed, by_variant.source) == (
            by_exact.delivery_mode,
            by_exact.delivery_signed,
            by_exact.source,
        )


@given(st.text(max_size=40), st.dictionaries(st.text(max_size=10), st.sampled_from(list(CarrierChoiceValue))))
def test_never_raises_with_any_choices(text: str, choices: dict[str, CarrierChoiceValue]) -> None:
    result = map_shipping_type(text, choices)
    assert isinstance(result, ShippingTypeMapped | ShippingTypeUnavailable)
    if isinstance(result, ShippingTypeUnavailable):
        assert result.reason.strip()


# -- the effective table ---------------------------------------------------------------------------------


def test_the_effective_table_lists_defaults_then_seen_and_chosen_types() -> None:
    chosen = {
        "so colissimo": ChosenCarrier("so colissimo", CarrierChoiceValue.STANDARD),
        "mode perso 2": ChosenCarrier("Mode perso 2", CarrierChoiceValue.EXPRESS),
    }
    seen = ["So   Colissimo", "Suivi", "Mode personnalisé 1", "mode personnalise 1", "Zèbre"]
    rows = effective_table(chosen, seen)
    by_type = {row.shipping_type: row for row in rows}
    assert [row.shipping_type for row in rows] == [
        *(m.rakuten_shipping_type for m in CARRIER_MAPPINGS),
        "Mode perso 2",
        "Mode personnalisé 1",
        "Zèbre",
    ]
    colissimo = by_type["So Colissimo"]
    assert (colissimo.cubyn, colissimo.source, colissimo.default, colissimo.seen) == (
        CarrierChoiceValue.STANDARD,
        ChoiceSource.CONNECTION,
        CarrierChoiceValue.NOT_IMPORTED,
        True,
    )
    assert (by_type["Suivi"].cubyn, by_type["Suivi"].source) == (CarrierChoiceValue.STANDARD, ChoiceSource.DEFAULT)
    assert by_type["Express"].seen is False
    custom = by_type["Mode personnalisé 1"]
    assert (custom.cubyn, custom.source, custom.label, custom.seen) == (
        CarrierChoiceValue.NOT_IMPORTED,
        ChoiceSource.DEFAULT,
        None,
        True,
    )
    assert CarrierChoiceValue.RELAY not in custom.allowed
    assert CarrierChoiceValue.RELAY in by_type["Point relais Mondial Relay"].allowed
    assert (by_type["Mode perso 2"].cubyn, by_type["Mode perso 2"].seen) == (CarrierChoiceValue.EXPRESS, False)


def test_the_effective_table_without_choices_is_the_default_table() -> None:
    rows = effective_table({}, [])
    assert [(r.shipping_type, r.cubyn, r.source) for r in rows] == [
        (m.rakuten_shipping_type, m.default_choice, ChoiceSource.DEFAULT) for m in CARRIER_MAPPINGS
    ]
    assert all(r.label for r in rows)
    assert effective_table({}, ["", "   "]) == rows  # blank types name nothing
