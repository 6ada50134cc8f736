"""Safe, streaming reading of Rakuten's answers: hostile documents (DTDs, entities, huge nodes) are refused,
truncated or garbled ones are transient, and the declared encoding wins over the HTTP charset."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from rakuten_connector.clients.rakuten_errors import RakutenInvalidResponse, RakutenTransientError
from rakuten_connector.clients.rakuten_reader import DocumentReader, read_document, read_stream
from rakuten_connector.clients.rakuten_xml import SALE_TAG, parse_item_info, parse_sale

NOW = datetime(2024, 3, 1, 10, 17, tzinfo=UTC)

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
