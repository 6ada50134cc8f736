from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rakuten_connector.mapping.parcels import (
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
