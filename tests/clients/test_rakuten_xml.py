"""Parsing of Rakuten's answers: every quirk of Rakuten's web services, and hostile documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from rakuten_connector.clients.rakuten_errors import (
    RakutenCredentialsError,
    RakutenInvalidResponse,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from rakuten_connector.clients.rakuten_models import (
    Advert,
    ItemInfo,
    ProductError,
    ProductReport,
    Sale,
    normalize_label,
)
from rakuten_connector.clients.rakuten_reader import read_document, read_stream
from rakuten_connector.clients.rakuten_xml import (
    ADVERT_TAG,
    PRODUCT_TAG,
    SALE_TAG,
    next_token,
    parse_advert,
    parse_import_result,
    parse_item_info,
    parse_product,
    parse_purchase_date,
    parse_report_file,
    parse_sale,
    parse_status,
)

NOW = datetime(2024, 3, 1, 10, 17, tzinfo=UTC)
Fixture = Callable[[str], bytes]


def sales_of(content: bytes, chunk: int = 1 << 16) -> tuple[list[Sale], str]:
    rest: list[etree._Element] = []
    chunks = [content[i : i + chunk] for i in range(0, len(content), chunk)]
    sales = list(read_stream(chunks, SALE_TAG, parse_sale, NOW, rest.append))
    return sales, next_token(rest[0])


def test_iso_8859_1_sales_with_cdata_accents_and_every_address_block(rakuten_fixture: Fixture) -> None:
    sales, token = sales_of(rakuten_fixture("getnewsales_many_iso8859.xml"))
    assert token == ""
    assert [s.purchase_id for s in sales] == ["31862101", "31862102"]
    home, relay = sales
    assert home.shipping_type == "Recommandé"
    assert home.buyer_login == "françois.lefèvre"
    assert home.purchased_at == datetime(2014, 3, 1, 8, 12, tzinfo=UTC)  # 09:12 in Paris, winter time
    assert home.purchase_date_raw == "01/03/2014-09:12"
    address = home.delivery_address
    assert address is not None
    assert (address.first_name, address.last_name, address.city) == ("François", "Lefèvre", "Compiègne")
    assert address.address1 == "7 impasse du Château-d'Eau"
    assert (address.address2, address.phone2, address.phone1) == ("", "", "0612345678")
    assert (address.country_alpha2, address.country_alpha2_raw) == ("FR", "FX")
    assert address.country == "FRANCE MÉTROPOLITAINE"
    assert home.billing_address is None
    assert home.relay_point is None
    # One item is one unit: two items of SKU-1, then a negotiated item without SKU.
    assert [(i.item_id, i.sku, i.status, i.is_nego) for i in home.items] == [
        ("260306083", "SKU-1", "TO_CONFIRM", False),
        ("260306084", "SKU-1", "TO_CONFIRM", False),
        ("260306085", "", "REQUESTED", True),
    ]
    assert home.items[2].headline == "Thé vert « bio » 100 g"
    assert home.items[0].price == Decimal("23.9")
    assert home.items[0].ean == "1234567890123"
    assert len(home.waiting_items) == 3

    assert relay.purchased_at == datetime(2024, 7, 15, 21, 30, tzinfo=UTC)  # summer time
    assert relay.delivery_address is None
    assert relay.billing_address is not None
    assert relay.billing_address.phone1 == ""
    assert relay.billing_address.address2 == "Bâtiment B"
    point = relay.relay_point
    assert point is not None
    assert (point.id, point.name, point.zipcode, point.contract_level) == (
        "FR-084735",
        "Épicerie Chez Loïc",
        "69005",
        "24R",
    )
    assert (point.first_name, point.last_name) == ("Zoé", "Côté")
    assert relay.buyer_email == ""
    # Unknown statuses are kept as they are; only waiting items count as waiting.
    assert [i.status for i in relay.items] == ["CANCELLED", "SOME_NEW_STATUS"]
    assert relay.waiting_items == ()


def test_single_sale_newer_namespace_utf8_unknown_shipping_type(rakuten_fixture: Fixture) -> None:
    sales, _ = sales_of(rakuten_fixture("getnewsales_single_utf8.xml"))
    (sale,) = sales
    assert sale.shipping_type == "Click and Collect"
    assert sale.delivery_address is None
    assert sale.relay_point is None
    assert sale.billing_address is not None
    assert sale.billing_address.last_name == "Müller"
    assert sale.items[0].sku == "SKU-Œ"
    assert sale.items[0].headline == "Bœuf \u2013 livre"
    # 02:30 on the night Paris leaves summer time is ambiguous: the first (summer) one is taken.
    assert sale.purchased_at == datetime(2021, 10, 31, 0, 30, tzinfo=UTC)


def test_so_colissimo_keeps_its_raw_shipping_type_with_or_without_a_relay_point(rakuten_fixture: Fixture) -> None:
    """Prepaid So Colissimo carries only a billing address, sometimes also a collection point; the shipping
    type is kept as Rakuten spelled it (inner spaces included), the comparison key is separate."""
    (billing_only, with_relay), _ = sales_of(rakuten_fixture("getnewsales_so_colissimo.xml"))
    assert billing_only.shipping_type == "So   Colissimo"
    assert normalize_label(billing_only.shipping_type) == normalize_label(with_relay.shipping_type)
    for sale in (billing_only, with_relay):
        assert sale.delivery_address is None
        assert sale.billing_address is not None
        assert (sale.billing_address.last_name, sale.billing_address.country_alpha2) == ("Lefèvre", "FR")
        assert [(i.sku, i.status) for i in sale.items] == [("SKU-1", "TO_CONFIRM")]
    assert billing_only.relay_point is None
    point = with_relay.relay_point
    assert point is not None
    assert (point.id, point.name, point.zipcode, point.contract_level) == (
        "FR-012345",
        "Tabac Presse de la Gare",
        "69002",
        "",
    )


def test_windows_1252_and_comma_decimals(rakuten_fixture: Fixture) -> None:
    (sale,), _ = sales_of(rakuten_fixture("getnewsales_windows1252.xml"))
    assert sale.shipping_type == "EN TÉLÉCHARGEMENT"
    assert sale.items[0].headline == "Livre numérique \u2013 5 €"
    assert sale.items[0].price == Decimal("5.00")


def test_empty_sales_list(rakuten_fixture: Fixture) -> None:
    assert sales_of(rakuten_fixture("getnewsales_empty.xml")) == ([], "")


def test_nexttoken_pages_are_trimmed(rakuten_fixture: Fixture) -> None:
    first, token = sales_of(rakuten_fixture("getcurrentsales_page1.xml"))
    last, end = sales_of(rakuten_fixture("getcurrentsales_page2.xml"))
    assert [s.purchase_id for s in first + last] == ["31900001", "31900002", "31900003"]
    assert (token, end) == ("TOKEN-PAGE-2", "")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=4000), min_size=1, max_size=8))
def test_chunk_boundaries_do_not_matter(cuts: list[int]) -> None:
    content = (Path(__file__).parent / "fixtures/rakuten/getnewsales_many_iso8859.xml").read_bytes()
    positions = sorted({min(c, len(content)) for c in cuts})
    chunks = [content[a:b] for a, b in zip([0, *positions], [*positions, len(content)], strict=True)]
    sales = list(read_stream(chunks, SALE_TAG, parse_sale, NOW))
    assert sales == sales_of(content)[0]


@pytest.mark.parametrize(
    ("name", "error", "attrs"),
    [
        ("error_credentials.xml", RakutenCredentialsError, {}),
        ("error_quota.xml", RakutenQuotaExceeded, {"retry_at": datetime(2024, 3, 1, 11, tzinfo=UTC)}),
        ("error_rights.xml", RakutenPermanentError, {"code": "InvalidUserRights"}),
        ("error_parameter.xml", RakutenPermanentError, {"details": ["Article 260306083 : a déjà été expédié"]}),
        ("error_server.xml", RakutenTransientError, {}),
    ],
)
def test_errorresponse_taxonomy(
    rakuten_fixture: Fixture, name: str, error: type[Exception], attrs: dict[str, object]
) -> None:
    with pytest.raises(error) as caught:
        read_document(rakuten_fixture(name), NOW)
    for key, value in attrs.items():
        assert getattr(caught.value, key) == value


def test_errorresponse_is_detected_while_streaming(rakuten_fixture: Fixture) -> None:
    with pytest.raises(RakutenCredentialsError):
        list(read_stream([rakuten_fixture("error_credentials.xml")], SALE_TAG, parse_sale, NOW))


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("acceptsale_ok.xml", "Accepted"),
        ("refusesale_ok.xml", "Refused"),  # unknown root name, newer namespace
        ("cancelitem_ok.xml", "CANCELLED"),
        ("settracking_ok.xml", "OK"),
        ("importitemshippingstatus_ok.xml", "OK"),
    ],
)
def test_status_whatever_the_root(rakuten_fixture: Fixture, name: str, status: str) -> None:
    assert parse_status(read_document(rakuten_fixture(name), NOW)) == status


def test_item_info_reads_the_item_status_and_shipped(rakuten_fixture: Fixture) -> None:
    content = rakuten_fixture("getiteminfos.xml")
    info = parse_item_info(read_document(content, NOW), "260306083")
    assert info == ItemInfo("260306083", "ACCEPTED", shipped=False)
    shipped = content.replace(b"<shipped>0</shipped>", b"<shipped>1</shipped>")
    assert parse_item_info(read_document(shipped, NOW), "260306083").shipped is True
    unsaid = content.replace(b"<shipped>0</shipped>", b"")
    assert parse_item_info(read_document(unsaid, NOW), "260306083").shipped is None


def test_item_info_ignores_the_same_names_inside_its_other_blocks() -> None:
    """An unseen root, no namespace, and claim / itemlog / message blocks before the item's own fields that
    hold elements named like them: only the item's own children count."""
    body = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<someunseenresult><response><lastversion>2017-08-07</lastversion><sellerid>1</sellerid>
  <item>
    <claim><itemid>999</itemid><itemstatus>CLAIM</itemstatus><status>OPEN</status><shipped>1</shipped></claim>
    <itemlog><date>01/03/2024-10:00</date><itemstatus>TO_CONFIRM</itemstatus></itemlog>
    <message><status>unread</status><content><![CDATA[O\xf9 est mon colis ?]]></content></message>
    <availableactions><action><name>cancelitem</name></action></availableactions>
    <mail><subject>x</subject></mail>
    <itemid> 260306083 </itemid>
    <itemstatus><![CDATA[
      COMMITTED
    ]]></itemstatus>
  </item>
</response></someunseenresult>"""
    info = parse_item_info(read_document(body, NOW), "260306083")
    assert info == ItemInfo("260306083", "COMMITTED", shipped=None)


@pytest.mark.parametrize(
    "response",
    [
        b"<response><lastversion>2017-08-07</lastversion></response>",
        b"<response><item><itemid>1</itemid></item><item><itemid>2</itemid></item></response>",
        b"<response><item><itemid>999</itemid><itemstatus>CANCELLED</itemstatus></item></response>",
    ],
    ids=["no-item", "not-this-item", "another-lone-item"],
)
def test_item_info_without_the_item_is_an_invalid_answer(response: bytes) -> None:
    root = read_document(b"<getiteminfosresult>" + response + b"</getiteminfosresult>", NOW)
    with pytest.raises(RakutenInvalidResponse, match="item 3"):
        parse_item_info(root, "3")


def test_import_result(rakuten_fixture: Fixture) -> None:
    result = parse_import_result(read_document(rakuten_fixture("genericimportfile_ok.xml"), NOW))
    assert (result.import_id, result.status) == ("35826776", "OK")


def test_export_pages(rakuten_fixture: Fixture) -> None:
    rest: list[etree._Element] = []
    adverts = list(read_stream([rakuten_fixture("export_page1.xml")], ADVERT_TAG, parse_advert, NOW, rest.append))
    assert adverts[0] == Advert("1000", "SKU-1000", 0, Decimal("10.5"), "N", False)
    assert [a.stock for a in adverts] == [0, 1, 2]
    assert next_token(rest[0]) == "EXPORT-2"
    # Streamed adverts are dropped from the tree as they are read: what remains is small.
    assert [a for a in rest[0].iter("{*}advert") if len(a)] == []


def test_report_page(rakuten_fixture: Fixture) -> None:
    rest: list[etree._Element] = []
    products = list(
        read_stream([rakuten_fixture("report_page1.xml")], PRODUCT_TAG, parse_product, NOW, rest.append)
    )
    file = parse_report_file(rest[0])
    assert (file["status"], file["totallines"], file["errorlines"]) == ("Traité", "3", "1")
    assert next_token(rest[0]) == "REPORT-2"
    ok, bad = products
    assert ok == ProductReport("SKU-1", "Traité", True, (), "1", "1000")
    assert (ok.error_codes, ok.no_offer) == ((), False)
    # A SKU without an offer on Rakuten: error code 60, key `alias`, trimmed.
    assert (bad.ok, bad.status, bad.errors) == (
        False,
        "Erreur",
        (ProductError("alias", "60", "L'alias est obligatoire pour les créations de produit."),),
    )
    assert (bad.error_codes, bad.no_offer) == (("60",), True)


def test_a_report_line_refused_for_another_reason_is_not_a_missing_offer() -> None:
    body = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<genericimportreportresult><response><product><sku>SKU-9</sku><status>Erreur</status><errors>
      <error><error_key>qty</error_key><error_code>12</error_code><error_text>Quantit\xe9 invalide</error_text></error>
      <error><error_key>price</error_key><error_code>600</error_code><error_text/></error>
    </errors></product></response></genericimportreportresult>"""
    (product,) = read_stream([body], PRODUCT_TAG, parse_product, NOW)
    assert (product.ok, product.error_codes, product.no_offer) == (False, ("12", "600"), False)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("01/03/2014-09:12", datetime(2014, 3, 1, 8, 12, tzinfo=UTC)),
        ("15/07/2024-09:12:30", datetime(2024, 7, 15, 7, 12, 30, tzinfo=UTC)),
        ("15/07/2024", datetime(2024, 7, 14, 22, 0, tzinfo=UTC)),
        ("2024-07-15", None),
        ("", None),
    ],
)
def test_purchase_dates(raw: str, expected: datetime | None) -> None:
    assert parse_purchase_date(raw) == expected
