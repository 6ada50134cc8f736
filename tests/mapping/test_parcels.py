from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rakuten_connector.mapping.carriers import CarrierChoiceValue, normalize_shipping_type
from rakuten_connector.mapping.parcels import (
    ImportRules,
    ParcelPlan,
    SaleSkipped,
    SkipCode,
    order_ref,
    purchase_of,
    sale_to_parcel,
)
from rakuten_connector.mapping.types import AddressRecord, ItemRecord, RelayPointRecord, SaleRecord
from rakuten_connector.sandbox.cubyn.validation import validate_parcel_body

DELIVERY = AddressRecord(
    civility="Mme",
    first_name="Claire",
    last_name="Martin",
    address1="3 avenue Foch",
    zipcode="69006",
    city="Lyon",
    country="France",
    country_alpha2="FX",
    phone1="0478000000",
)
BILLING = dataclasses.replace(DELIVERY, address1="8 rue Victor Hugo", zipcode="13001", city="Marseille")
RELAY = RelayPointRecord(id="FR-084735", name="Tabac de la Gare", address="1 place de la Gare", city="Lyon")


def sale(**changes: object) -> SaleRecord:
    base = SaleRecord(
        purchase_id="31862101",
        shipping_type="Suivi",
        delivery_address=DELIVERY,
        billing_address=BILLING,
        buyer_email="claire@example.fr",
        items=(ItemRecord("1", "SKU-1"), ItemRecord("2", "SKU-2"), ItemRecord("3", "SKU-1")),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_home_sale_gives_a_parcel_with_items_summed_per_sku() -> None:
    plan = sale_to_parcel(sale())
    assert isinstance(plan, ParcelPlan)
    body = plan.request.to_json()
    assert body["orderRef"] == "RAKUTEN-31862101" == plan.order_ref
    assert body["items"] == [{"sku": "SKU-1", "quantity": 2}, {"sku": "SKU-2", "quantity": 1}]
    assert (body["deliveryMode"], body["deliverySigned"], body["relayPoint"]) == ("STANDARD", False, None)
    assert body["address"]["city"] == "Lyon"  # the delivery address, not the billing one
    assert (body["lastName"], body["email"], body["phone"]) == ("Martin", "claire@example.fr", "0478000000")
    assert plan.item_ids == ("1", "2", "3")
    assert validate_parcel_body(body) == []


@pytest.mark.parametrize(
    ("shipping_type", "mode", "signed"),
    [
        ("Normal", "STANDARD", False),
        ("Suivi", "STANDARD", False),
        ("Recommandé", "STANDARD", True),
        ("Express", "EXPRESS", False),
    ],
)
def test_home_modes(shipping_type: str, mode: str, signed: bool) -> None:
    plan = sale_to_parcel(sale(shipping_type=shipping_type))
    assert isinstance(plan, ParcelPlan)
    assert (plan.request.delivery_mode, plan.request.delivery_signed) == (mode, signed)


def test_home_mode_falls_back_to_billing_address() -> None:
    plan = sale_to_parcel(sale(delivery_address=None))
    assert isinstance(plan, ParcelPlan)
    assert plan.request.address.city == "Marseille"


def test_relay_sale_uses_billing_recipient_and_relay_point() -> None:
    plan = sale_to_parcel(
        sale(shipping_type="Point relais Mondial Relay", delivery_address=None, relay_point=RELAY)
    )
    assert isinstance(plan, ParcelPlan)
    body = plan.request.to_json()
    assert body["deliveryMode"] == "RELAY"
    assert body["relayPoint"] == {"id": "084735", "country": "FR", "name": "Tabac de la Gare"}
    assert body["address"]["city"] == "Marseille"
    assert validate_parcel_body(body) == []


def test_only_waiting_items_go_into_the_parcel() -> None:
    items = (
        ItemRecord("1", "SKU-1", "TO_CONFIRM"),
        ItemRecord("2", "SKU-2", "CANCELLED"),
        ItemRecord("3", "SKU-1", "REQUESTED"),
        ItemRecord("4", "SKU-3", "reminded"),
        ItemRecord("5", "", "REFUSED"),  # no SKU, but not waiting: irrelevant
    )
    plan = sale_to_parcel(sale(items=items))
    assert isinstance(plan, ParcelPlan)
    assert plan.item_ids == ("1", "3", "4")
    assert [(i.sku, i.quantity) for i in plan.request.items] == [("SKU-1", 2), ("SKU-3", 1)]


@pytest.mark.parametrize(
    ("changes", "code", "reason_part"),
    [
        ({"items": ()}, SkipCode.NO_WAITING_ITEM, "waiting"),
        (
            {"items": (ItemRecord("1", "S", "CANCELLED"), ItemRecord("2", "S", "ACCEPTED"))},
            SkipCode.NO_WAITING_ITEM,
            "",
        ),
        ({"items": (ItemRecord("1", "S", "SOMETHING_NEW"),)}, SkipCode.NO_WAITING_ITEM, ""),
        ({"shipping_type": "So Colissimo"}, SkipCode.SHIPPING_TYPE_UNAVAILABLE, "So Colissimo"),
        ({"shipping_type": "Chronopost"}, SkipCode.SHIPPING_TYPE_UNAVAILABLE, "Chronopost"),
        ({"shipping_type": "Retrait chez le vendeur"}, SkipCode.SHIPPING_TYPE_UNAVAILABLE, "Retrait"),
        ({"shipping_type": "Téléportation"}, SkipCode.SHIPPING_TYPE_UNAVAILABLE, "Téléportation"),
        ({"shipping_type": None}, SkipCode.SHIPPING_TYPE_UNAVAILABLE, "not available"),
        ({"items": (ItemRecord("1", "SKU-1"), ItemRecord("77", ""))}, SkipCode.EMPTY_SKU, "77"),
        ({"items": (ItemRecord("78", None),)}, SkipCode.EMPTY_SKU, "no SKU"),
        ({"items": (ItemRecord("79", "  "),)}, SkipCode.EMPTY_SKU, "79"),
        ({"items": (ItemRecord("1", "SKU-1", is_nego=True),)}, SkipCode.NEGOTIATION_PENDING, "negotiation"),
        ({"delivery_address": None, "billing_address": None}, SkipCode.ADDRESS_UNMAPPABLE, "no delivery address"),
        (
            {"delivery_address": dataclasses.replace(DELIVERY, country_alpha2="", country="Atlantis")},
            SkipCode.ADDRESS_UNMAPPABLE,
            "Atlantis",
        ),
        (
            {"shipping_type": "Point relais Mondial Relay", "relay_point": None},
            SkipCode.ADDRESS_UNMAPPABLE,
            "relay point",
        ),
    ],
)
def test_skips_say_why(changes: dict[str, object], code: SkipCode, reason_part: str) -> None:
    result = sale_to_parcel(sale(**changes))
    assert isinstance(result, SaleSkipped)
    assert result.code is code
    assert reason_part in result.reason


def test_order_ref() -> None:
    assert order_ref(" 42 ") == "RAKUTEN-42"


# -- property: any sale gives a request Cubyn accepts, or a skip with a reason -----------------------------

statuses = st.sampled_from(["TO_CONFIRM", "REQUESTED", "REMINDED", "ACCEPTED", "CANCELLED", "REFUSED", "NEW?"])
skus = st.one_of(st.sampled_from(["SKU-1", "SKU-2", "sku 3", "", "  "]), st.text(max_size=12), st.none())
items = st.lists(
    st.builds(
        ItemRecord,
        item_id=st.text("0123456789", min_size=1, max_size=9),
        sku=skus,
        status=statuses,
        is_nego=st.booleans(),
    ),
    max_size=6,
)
texts = st.one_of(st.none(), st.text(max_size=60))
addresses = st.one_of(
    st.none(),
    st.builds(
        AddressRecord,
        first_name=texts,
        last_name=texts,
        address1=st.one_of(texts, st.text(alphabet="abc ", max_size=150)),
        address2=texts,
        zipcode=st.one_of(st.sampled_from(["75002", "1000", ""]), st.text(max_size=10)),
        city=st.one_of(st.just("Paris"), texts),
        country=st.sampled_from(["France", "Belgique", "", "Atlantis", "Suisse"]),
        country_alpha2=st.one_of(st.sampled_from(["FX", "FR", "BE", "", "1"]), st.text(max_size=3)),
        phone1=texts,
        phone2=texts,
    ),
)
relays = st.one_of(st.none(), st.builds(RelayPointRecord, id=st.one_of(st.just("FR-084735"), texts), name=texts))
shipping_types = st.one_of(
    st.sampled_from(["Normal", "Suivi", "Recommandé", "Express", "Point relais Mondial Relay", "So Colissimo"]),
    texts,
)
sales = st.builds(
    SaleRecord,
    purchase_id=st.text("0123456789", min_size=1, max_size=12),
    shipping_type=shipping_types,
    delivery_address=addresses,
    billing_address=addresses,
    relay_point=relays,
    buyer_email=st.one_of(texts, st.emails()),
    items=items.map(tuple),
)


@settings(max_examples=300)
@given(sales)
def test_every_sale_gives_an_acceptable_request_or_a_reason(generated: SaleRecord) -> None:
    result = sale_to_parcel(generated)
    if isinstance(result, SaleSkipped):
        assert result.reason.strip()
        return
    assert validate_parcel_body(result.request.to_json()) == []
    waiting = [i for i in generated.items if i.status in ("TO_CONFIRM", "REQUESTED", "REMINDED")]
    assert result.item_ids == tuple(i.item_id for i in waiting)
    assert sum(i.quantity for i in result.request.items) == len(waiting)


def test_an_order_ref_names_its_purchase_and_only_ours_do() -> None:
    assert order_ref(" 31862101 ") == "RAKUTEN-31862101"
    assert purchase_of(order_ref("31862101")) == "31862101"
    assert purchase_of("SHOPIFY-1") is None
    assert purchase_of(None) is None


# -- the connection's rules ------------------------------------------------------------------------------

COLISSIMO_STANDARD = ImportRules(carrier_choices={"so colissimo": CarrierChoiceValue.STANDARD})


@pytest.mark.parametrize("shipping_type", ["So Colissimo", "Chronopost"])
def test_a_prepaid_mode_once_chosen_ships_home_to_the_billing_address(shipping_type: str) -> None:
    rules = ImportRules(carrier_choices={normalize_shipping_type(shipping_type): CarrierChoiceValue.STANDARD})
    # These sales carry only the billing address; one that carried both still ships to the billing one.
    for delivery in (None, DELIVERY):
        plan = sale_to_parcel(sale(shipping_type=shipping_type, delivery_address=delivery), rules)
        assert isinstance(plan, ParcelPlan)
        body = plan.request.to_json()
        assert (body["deliveryMode"], body["deliverySigned"], body["relayPoint"]) == ("STANDARD", False, None)
        assert body["address"]["city"] == "Marseille"
        assert validate_parcel_body(body) == []
        assert f'"{shipping_type}" is sent to Cubyn as STANDARD (carrier mapping).' in " ".join(plan.notes)


def test_a_so_colissimo_sale_with_a_collection_point_ships_home() -> None:
    plan = sale_to_parcel(
        sale(shipping_type="So Colissimo", delivery_address=None, relay_point=RELAY), COLISSIMO_STANDARD
    )
    assert isinstance(plan, ParcelPlan)
    assert (plan.request.delivery_mode, plan.request.relay_point) == ("STANDARD", None)
    assert plan.request.address.city == "Marseille"


def test_without_a_choice_so_colissimo_is_still_skipped() -> None:
    result = sale_to_parcel(sale(shipping_type="  so   COLISSIMO "), ImportRules())
    assert isinstance(result, SaleSkipped)
    assert result.code is SkipCode.SHIPPING_TYPE_UNAVAILABLE
    chosen_not = ImportRules(carrier_choices={"suivi": CarrierChoiceValue.NOT_IMPORTED})
    refused = sale_to_parcel(sale(), chosen_not)
    assert isinstance(refused, SaleSkipped)
    assert (refused.code, "not imported" in refused.reason) == (SkipCode.SHIPPING_TYPE_UNAVAILABLE, True)


@pytest.mark.parametrize("delivery_address", [None, DELIVERY])
def test_a_mondial_relay_sale_chosen_home_ships_to_the_billing_address(delivery_address: object) -> None:
    rules = ImportRules(carrier_choices={"point relais mondial relay": CarrierChoiceValue.STANDARD_SIGNED})
    plan = sale_to_parcel(
        sale(shipping_type="Point relais Mondial Relay", delivery_address=delivery_address, relay_point=RELAY),
        rules,
    )
    assert isinstance(plan, ParcelPlan)
    body = plan.request.to_json()
    assert (body["deliveryMode"], body["deliverySigned"], body["relayPoint"]) == ("STANDARD", True, None)
    assert body["address"]["city"] == "Marseille"


def test_a_custom_mode_chosen_ships_to_the_delivery_address() -> None:
    rules = ImportRules(carrier_choices={"mode personnalise 1": CarrierChoiceValue.EXPRESS})
    plan = sale_to_parcel(sale(shipping_type="Mode personnalisé 1"), rules)
    assert isinstance(plan, ParcelPlan)
    assert (plan.request.delivery_mode, plan.request.address.city) == ("EXPRESS", "Lyon")
    assert plan.shipping is not None
    assert plan.shipping.shipping_type == "Mode personnalisé 1"


def test_mapped_skus_are_summed_per_cubyn_sku() -> None:
    items = (
        ItemRecord("1", "R-1"),
        ItemRecord("2", "R-2"),
        ItemRecord("3", "R-1"),
        ItemRecord("4", "SKU-9"),
        ItemRecord("5", "r-1"),  # SKUs are case-sensitive: not R-1's mapping
        ItemRecord("6", "R-3", "CANCELLED"),  # not waiting
    )
    rules = ImportRules(sku_mappings={"R-1": "C-1", "R-2": "C-1", "R-3": "C-3"})
    plan = sale_to_parcel(sale(items=items), rules)
    assert isinstance(plan, ParcelPlan)
    assert [(i.sku, i.quantity) for i in plan.request.items] == [("C-1", 3), ("SKU-9", 1), ("r-1", 1)]
    assert dict(plan.cubyn_skus) == {"1": "C-1", "2": "C-1", "3": "C-1"}
    assert plan.notes == (
        'SKU "R-1" is sent to Cubyn as "C-1" (SKU mapping).',
        'SKU "R-2" is sent to Cubyn as "C-1" (SKU mapping).',
    )


def test_a_mapping_is_found_as_rakuten_sent_the_sku_then_trimmed() -> None:
    items = (ItemRecord("1", " R-1 "), ItemRecord("2", "R-2 "), ItemRecord("3", "R-4"))
    rules = ImportRules(sku_mappings={" R-1 ": "EXACT", "R-1": "TRIMMED", "R-2": "C-2"})
    plan = sale_to_parcel(sale(items=items), rules)
    assert isinstance(plan, ParcelPlan)
    assert [(i.sku, i.quantity) for i in plan.request.items] == [("EXACT", 1), ("C-2", 1), ("R-4", 1)]
    assert dict(plan.cubyn_skus) == {"1": "EXACT", "2": "C-2"}


rules_strategy = st.builds(
    ImportRules,
    carrier_choices=st.dictionaries(
        st.sampled_from(["so colissimo", "suivi", "chronopost", "point relais mondial relay", "x"]),
        st.sampled_from(list(CarrierChoiceValue)),
    ),
    # Cubyn SKUs as the mapping route lets them in: not blank, no surrounding whitespace.
    sku_mappings=st.dictionaries(
        skus.filter(lambda s: s is not None).map(str), st.text(max_size=12).map(str.strip).filter(bool)
    ),
)


@settings(max_examples=300)
@given(sales, rules_strategy)
def test_every_sale_under_any_rules_gives_an_acceptable_request_or_a_reason(
    generated: SaleRecord, rules: ImportRules
) -> None:
    result = sale_to_parcel(generated, rules)
    if isinstance(result, SaleSkipped):
        assert result.reason.strip()
        return
    assert validate_parcel_body(result.request.to_json()) == []
    waiting = [i for i in generated.items if i.status in ("TO_CONFIRM", "REQUESTED", "REMINDED")]
    assert sum(i.quantity for i in result.request.items) == len(waiting)
    assert len({i.sku for i in result.request.items}) == len(result.request.items)  # one line per Cubyn SKU
    assert all(i.sku.strip() for i in result.request.items)
