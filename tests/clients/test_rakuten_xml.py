"""Parsing of Rakuten's answers: every quirk of contracts/rakuten-ws.md, and hostile documents."""

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
from rakuten_connector.clients.rakuten_files import build_stock_file, build_tracking_file
from rakuten_connector.clients.rakuten_models import Advert, ProductReport, Sale, TrackingUpdate
from rakuten_connector.clients.rakuten_reader import DocumentReader, read_document, read_stream
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


def test_item_info_and_import_result(rakuten_fixture: Fixture) -> None:
    info = parse_item_info(read_document(rakuten_fixture("getiteminfos.xml"), NOW), "260306083")
    assert (info.item_id, info.status, info.purchase_id, info.sku) == (
        "260306083",
        "ACCEPTED",
        "31862101",
        "SKU-1",
    )
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
    assert (bad.ok, bad.status, bad.errors[0].key, bad.errors[0].text) == (
        False,
        "Erreur",
        "sellerReference",
        "Référence vendeur inconnue",
    )


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


# -- hostile documents ----------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<getnewsalesresult><response><sales><sale><purchaseid>&lol9;</purchaseid></sale></sales></response></getnewsalesresult>
"""


def external_entity(target: Path) -> bytes:
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{target}">]>
<getnewsalesresult><response><sales><sale><purchaseid>&xxe;</purchaseid></sale></sales></response></getnewsalesresult>
""".encode()


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    with pytest.raises(RakutenInvalidResponse, match="DTD"):
        list(read_stream([BILLION_LAUGHS], SALE_TAG, parse_sale, NOW))


def test_external_entity_never_reads_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    for chunks in ([external_entity(secret)], [external_entity(secret)[:10], external_entity(secret)[10:]]):
        with pytest.raises(RakutenInvalidResponse) as caught:
            list(read_stream(chunks, SALE_TAG, parse_sale, NOW))
        assert "TOP-SECRET" not in str(caught.value)


def test_doctype_hidden_after_a_long_comment_is_refused_by_the_parser_result(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    content = external_entity(secret).replace(b"<!DOCTYPE", b"<!-- " + b"x" * 70_000 + b" --><!DOCTYPE", 1)
    with pytest.raises(RakutenInvalidResponse):
        read_document(content, NOW)


def test_huge_text_node_is_refused() -> None:
    content = (
        b"<getnewsalesresult><response><status>" + b"A" * 11_000_000 + b"</status></response></getnewsalesresult>"
    )
    with pytest.raises(RakutenInvalidResponse):
        read_document(content, NOW)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"   ",
        b"<?xml version='1.0'?>",
        b"<getnewsalesresult><response><sales><sale><purchaseid>1</purch",
        b"<html><body>502 Bad Gateway</body>",
        b"\x00\xff garbage <<<",
        b"not xml at all",
    ],
)
def test_truncated_or_garbled_documents_are_transient(content: bytes) -> None:
    with pytest.raises(RakutenInvalidResponse) as caught:
        list(read_stream([content], SALE_TAG, parse_sale, NOW))
    assert isinstance(caught.value, RakutenTransientError)


def test_fallback_encoding_is_used_only_without_declaration() -> None:
    body = "<getiteminfosresult><response><item><itemstatus>ACCEPTÉ</itemstatus></item></response></getiteminfosresult>"
    reader: DocumentReader[None] = DocumentReader(fallback_encoding="ISO-8859-1")
    reader.feed(body.encode("iso-8859-1"))
    assert parse_item_info(reader.close(NOW), "1").status == "ACCEPTÉ"


# -- files the client uploads ---------------------------------------------------------------------------


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
