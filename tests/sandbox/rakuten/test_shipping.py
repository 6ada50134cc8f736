"""The sandbox's sales carry the address blocks of their shipping type, whatever string it is: Rakuten's own
modes, a seller's custom mode, spacing and case variants; through both ways of creating sales."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lxml import etree

from rakuten_connector.sandbox.rakuten.shipping import AddressBlocks, address_blocks, shipping_key
from tests.sandbox.rakuten.helpers import LOGIN, add_sale, root_of, seller, texts, ws

BILLING = {"lastname": "Lefèvre", "firstname": "Hélène", "address1": "12 rue de la République", "city": "Lyon"}
RELAY = {"id": "FR-012345", "name": "Tabac Presse de la Gare", "zipcode": "69002", "city": "Lyon"}


@pytest.mark.parametrize(
    ("shipping_type", "blocks"),
    [
        ("Normal", AddressBlocks.HOME),
        ("Suivi", AddressBlocks.HOME),
        ("Recommandé", AddressBlocks.HOME),
        ("Express", AddressBlocks.HOME),
        ("Mode personnalisé 1", AddressBlocks.HOME),  # a seller's own mode
        ("Some newer mode", AddressBlocks.HOME),
        ("Point relais Mondial Relay", AddressBlocks.RELAY),
        ("  point relais   MONDIAL relay ", AddressBlocks.RELAY),
        ("Relai Kiala", AddressBlocks.RELAY),
        ("Shop2Shop by Chronopost", AddressBlocks.RELAY),
        ("So Colissimo", AddressBlocks.BILLING_ONLY),
        ("So   Colissimo", AddressBlocks.BILLING_ONLY),
        ("so\u00a0colissimo", AddressBlocks.BILLING_ONLY),
        ("Chronopost", AddressBlocks.BILLING_ONLY),
        ("Retrait chez le vendeur", AddressBlocks.BILLING_ONLY),
        ("EN TE\u0301LE\u0301CHARGEMENT", AddressBlocks.BILLING_ONLY),  # decomposed accents
        ("Click and Collect", AddressBlocks.BILLING_ONLY),
    ],
)
def test_address_blocks_by_normalized_shipping_type(shipping_type: str, blocks: AddressBlocks) -> None:
    assert address_blocks(shipping_type) is blocks


def test_shipping_key() -> None:
    assert shipping_key("  So \t  COLISSIMO\n") == shipping_key("So Colissimo") == "so colissimo"


def blocks_of(sale: dict[str, Any]) -> tuple[bool, bool, bool]:
    """(delivery address, billing address, relay point) present."""
    return (
        sale["delivery_address"] is not None,
        sale["billing_address"] is not None,
        sale["relay_point"] is not None,
    )


@pytest.mark.parametrize(
    ("shipping_type", "expected"),
    [
        ("Mode personnalisé 1", (True, False, False)),
        ("Suivi", (True, False, False)),
        ("So   Colissimo", (False, True, False)),
        ("Chronopost", (False, True, False)),
        ("point relais mondial relay", (False, True, True)),
    ],
)
async def test_an_explicit_sale_without_addresses_gets_the_blocks_of_its_shipping_type(
    rakuten_http: httpx.AsyncClient, shipping_type: str, expected: tuple[bool, bool, bool]
) -> None:
    await seller(rakuten_http)
    sale = await add_sale(rakuten_http, shipping_type=shipping_type)
    assert sale["shipping_type"] == shipping_type  # kept exactly as given
    assert blocks_of(sale) == expected
    answer = await ws(rakuten_http, "getnewsales")
    assert texts(answer, "shippingtype") == [shipping_type]
    rendered = [
        bool(texts(answer, name)) for name in ("deliveryaddress", "billingaddress", "collectionpointaddress")
    ]
    assert tuple(rendered) == expected


async def test_so_colissimo_with_billing_only_or_with_a_relay_point_too(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    alone = await add_sale(rakuten_http, shipping_type="So Colissimo", billing_address=BILLING)
    relay = await add_sale(rakuten_http, shipping_type="So Colissimo", billing_address=BILLING, relay_point=RELAY)
    assert (blocks_of(alone), blocks_of(relay)) == ((False, True, False), (False, True, True))
    answer = await ws(rakuten_http, "getnewsales")
    blocks = {
        sale.findtext("{*}purchaseid"): [
            etree.QName(e).localname for e in sale.iterfind("{*}deliveryinformation/*")
        ]
        for sale in root_of(answer).iter("{*}sale")
    }
    assert blocks[alone["purchase_id"]][-1:] == ["billingaddress"]
    assert blocks[relay["purchase_id"]][-2:] == ["billingaddress", "collectionpointaddress"]
    assert "deliveryaddress" not in blocks[alone["purchase_id"]] + blocks[relay["purchase_id"]]


async def test_generated_sales_take_any_shipping_type(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    body = {
        "count": 60,
        "seed": 3,
        "shipping_types": ["Mode personnalisé 1", "So   Colissimo", "POINT RELAIS MONDIAL RELAY"],
        "so_colissimo_relay_rate": 0.5,
    }
    generated = await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/sales/generate", json=body)
    assert generated.status_code == 201, generated.text
    sales = generated.json()["sales"]
    by_type: dict[str, set[tuple[bool, bool, bool]]] = {}
    for sale in sales:
        by_type.setdefault(sale["shipping_type"], set()).add(blocks_of(sale))
    assert by_type == {
        "Mode personnalisé 1": {(True, True, False)},
        "So   Colissimo": {(False, True, False), (False, True, True)},  # sometimes naming a relay
        "POINT RELAIS MONDIAL RELAY": {(False, True, True)},
    }
    listed = texts(await ws(rakuten_http, "getnewsales"), "shippingtype")
    assert set(listed) == set(by_type)


async def test_so_colissimo_names_no_relay_unless_asked(rakuten_http: httpx.AsyncClient) -> None:
    await seller(rakuten_http)
    body = {"count": 20, "seed": 4, "shipping_types": ["So Colissimo"]}
    sales = (await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/sales/generate", json=body)).json()["sales"]
    assert {blocks_of(sale) for sale in sales} == {(False, True, False)}
