"""The Rakuten client's exact requests and its error handling, against respx."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest
import respx
from lxml import etree
from pydantic import SecretStr

from rakuten_connector.clients.rakuten import (
    RakutenAnswerLost,
    RakutenClient,
    RakutenCredentialsError,
    RakutenInvalidResponse,
    RakutenItemStateError,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from rakuten_connector.clients.rakuten_models import ItemOutcome, TrackingUpdate
from tests.clients.streams import slow_answer

BASE = "https://ws.example.test"
LOGIN, TOKEN = "boutique", "s3cr3t-token"
NOW = datetime(2024, 3, 1, 10, 17, tzinfo=UTC)
Fixture = Callable[[str], bytes]


def client(token: str = TOKEN, **kwargs: Any) -> RakutenClient:
    return RakutenClient(BASE, LOGIN, SecretStr(token), clock=lambda: NOW, **kwargs)


def xml(content: bytes, status: int = 200) -> httpx.Response:
    return httpx.Response(status, content=content, headers={"content-type": "text/xml"})


def params_of(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params.multi_items())


def auth(action: str, version: str, **extra: str) -> dict[str, str]:
    return {"action": action, "login": LOGIN, "pwd": TOKEN, "version": version, **extra}


def uploaded_file(request: httpx.Request) -> tuple[str, bytes]:
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content
    )
    parts = list(message.iter_parts())
    assert len(parts) == 1
    assert parts[0].get_param("name", header="content-disposition") == "file"
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(parts[0].get_filename()), payload


UPDATE = TrackingUpdate("260306083", "31862101", "Cubyn", "CUB123", "https://track.cubyn.com/CUB123")

# (call, endpoint, expected query, answer fixture)
CASES: list[tuple[str, Callable[[RakutenClient], Awaitable[object]], str, dict[str, str], str]] = [
    (
        "getnewsales",
        lambda c: c.get_new_sales(),
        "sales_ws",
        auth("getnewsales", "2017-08-07"),
        "getnewsales_empty.xml",
    ),
    (
        "getcurrentsales",
        lambda c: c.get_current_sales(date(2024, 2, 1)),
        "sales_ws",
        auth("getcurrentsales", "2017-08-07", purchasedate="2024-02-01"),
        "getcurrentsales_page2.xml",
    ),
    (
        "acceptsale",
        lambda c: c.accept_item("260306083"),
        "sales_ws",
        auth("acceptsale", "2021-04-08", itemid="260306083", shippingfromcountry="249"),
        "acceptsale_ok.xml",
    ),
    (
        "refusesale",
        lambda c: c.refuse_item("260306083"),
        "sales_ws",
        auth("refusesale", "2010-09-20", itemid="260306083"),
        "refusesale_ok.xml",
    ),
    (
        "getiteminfos",
        lambda c: c.get_item_info("260306083"),
        "sales_ws",
        auth("getiteminfos", "2017-08-07", itemid="260306083"),
        "getiteminfos.xml",
    ),
    (
        "cancelitem",
        lambda c: c.cancel_item("260306083", "  Rupture de stock, désolé.  "),
        "sales_ws",
        auth("cancelitem", "2011-02-02", itemid="260306083", comment="Rupture de stock, désolé."),
        "cancelitem_ok.xml",
    ),
    (
        "settrackingpackageinfos",
        lambda c: c.set_tracking(UPDATE),
        "sales_ws",
        auth(
            "settrackingpackageinfos",
            "2016-03-16",
            itemid="260306083",
            transporter_name="Cubyn",
            tracking_number="CUB123",
            tracking_url="https://track.cubyn.com/CUB123",
        ),
        "settracking_ok.xml",
    ),
    ("export", lambda c: c.export(), "stock_ws", auth("export", "2018-06-29"), "export_page2.xml"),
    (
        "genericimportreport",
        lambda c: c.get_import_report("35826776"),
        "stock_ws",
        auth("genericimportreport", "2017-02-10", fileid="35826776"),
        "report_pending.xml",
    ),
]


@pytest.mark.parametrize(("action", "call", "endpoint", "query", "answer"), CASES, ids=[c[0] for c in CASES])
async def test_get_actions_send_exactly_the_contract(
    rakuten_fixture: Fixture,
    action: str,
    call: Callable[[RakutenClient], Awaitable[object]],
    endpoint: str,
    query: dict[str, str],
    answer: str,
) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.get(f"{BASE}/{endpoint}").mock(return_value=xml(rakuten_fixture(answer)))
        await call(client())
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "GET"
    assert params_of(request) == query


async def test_uploads_are_multipart_with_part_file_and_auth_in_query(rakuten_fixture: Fixture) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        stock = mock.post(f"{BASE}/stock_ws").mock(return_value=xml(rakuten_fixture("genericimportfile_ok.xml")))
        sales = mock.post(f"{BASE}/sales_ws").mock(
            return_value=xml(rakuten_fixture("importitemshippingstatus_ok.xml"))
        )
        result = await client().upload_stock({"SKU-1": 12, "SKU-é": 0})
        taken = await client().send_tracking_file([UPDATE])
    assert result.import_id == "35826776"
    assert params_of(stock.calls.last.request) == auth("genericimportfile", "2015-02-02")
    _, content = uploaded_file(stock.calls.last.request)
    root = etree.fromstring(content)
    assert [v.text for v in root.iter("value")] == ["SKU-1", "12", "SKU-é", "0"]
    assert params_of(sales.calls.last.request) == auth("importitemshippingstatus", "2016-05-09")
    _, tracking = uploaded_file(sales.calls.last.request)
    assert etree.fromstring(tracking).findtext("item/trackingnumber") == "CUB123"
    assert taken


async def test_pages_follow_nexttoken(rakuten_fixture: Fixture) -> None:
    with respx.mock() as mock:
        sales = mock.get(f"{BASE}/sales_ws").mock(
            side_effect=[
                xml(rakuten_fixture("getcurrentsales_page1.xml")),
                xml(rakuten_fixture("getcurrentsales_page2.xml")),
            ]
        )
        stock = mock.get(f"{BASE}/stock_ws", params={"action": "export"}).mock(
            side_effect=[xml(rakuten_fixture("export_page1.xml")), xml(rakuten_fixture("export_page2.xml"))]
        )
        report = mock.get(f"{BASE}/stock_ws", params={"action": "genericimportreport"}).mock(
            side_effect=[xml(rakuten_fixture("report_page1.xml")), xml(rakuten_fixture("report_page2.xml"))]
        )
        current = await client().get_current_sales()
        adverts = [a async for a in client().iter_export()]
        result = await client().get_import_report("35826776")
    assert [s.purchase_id for s in current] == ["31900001", "31900002", "31900003"]
    assert "nexttoken" not in params_of(sales.calls[0].request)
    assert params_of(sales.calls[1].request)["nexttoken"] == "TOKEN-PAGE-2"
    assert [a.sku for a in adverts] == ["SKU-1000", "SKU-1001", "SKU-1002", "SKU-2000", "SKU-2001"]
    assert params_of(stock.calls[1].request)["nexttoken"] == "EXPORT-2"
    assert params_of(report.calls[1].request) == auth(
        "genericimportreport", "2017-02-10", fileid="35826776", nexttoken="REPORT-2"
    )
    assert (result.file_status, result.processed, result.total_lines, result.error_lines) == ("Traité", True, 3, 1)
    assert [(p.sku, p.ok) for p in result.products] == [("SKU-1", True), ("INCONNU", False), ("SKU-2", True)]


async def test_a_repeated_page_token_stops_the_loop(rakuten_fixture: Fixture) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture("getcurrentsales_page1.xml")))
        with pytest.raises(RakutenInvalidResponse, match="repeated"):
            await client().get_current_sales()


async def test_pending_report_is_not_processed(rakuten_fixture: Fixture) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/stock_ws").mock(return_value=xml(rakuten_fixture("report_pending.xml")))
        report = await client().get_import_report("1")
    assert (report.file_status, report.processed, report.products) == ("En attente", False, ())


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        ("error_credentials.xml", 200, RakutenCredentialsError),
        ("error_credentials.xml", 500, RakutenCredentialsError),
        ("error_quota.xml", 200, RakutenQuotaExceeded),
        ("error_rights.xml", 200, RakutenPermanentError),
        ("error_server.xml", 200, RakutenTransientError),
        ("error_server.xml", 500, RakutenTransientError),
    ],
)
async def test_errorresponse_whatever_the_status(
    rakuten_fixture: Fixture, answer: str, status: int, error: type[Exception]
) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture(answer), status))
        with pytest.raises(error) as caught:
            await client().check_credentials()
    if isinstance(caught.value, RakutenQuotaExceeded):
        assert caught.value.retry_at == datetime(2024, 3, 1, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(502, text="<html>Bad Gateway</html>"), RakutenAnswerLost, "HTTP 502"),
        (httpx.Response(503, text="Service Unavailable"), RakutenAnswerLost, "HTTP 503"),
        (httpx.Response(429, text=""), RakutenTransientError, "HTTP 429"),
        (httpx.Response(404, text="Not Found"), RakutenPermanentError, "HTTP 404"),
        (httpx.Response(200, text="<getnewsalesresult><response><sales>"), RakutenInvalidResponse, "unreadable"),
        (httpx.Response(200, text=""), RakutenInvalidResponse, "empty"),
    ],
)
async def test_http_failures(response: httpx.Response, error: type[Exception], text: str) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=response)
        with pytest.raises(error, match=text) as caught:
            await client().get_new_sales()
    # A 429 is an answer: Rakuten did nothing. A 5xx or an unreadable answer leaves that unknown.
    assert isinstance(caught.value, RakutenAnswerLost) == (
        response.status_code != 429 and error is not RakutenPermanentError
    )


@pytest.mark.parametrize(
    "content",
    [
        b"<getnewsalesresult><response><sales/></response></getnewsalesresult>",
        b'<?xml version="1.0" encoding="x-bogus"?><getnewsalesresult><response><sales/></response></getnewsalesresult>',
    ],
    ids=["http-charset", "declared-encoding"],
)
@pytest.mark.parametrize("status", [200, 500])
async def test_an_unknown_charset_is_an_invalid_answer(content: bytes, status: int) -> None:
    answer = httpx.Response(status, content=content, headers={"content-type": "text/xml; charset=x-bogus"})
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=answer)
        with pytest.raises(RakutenTransientError) as caught:
            await client().get_new_sales()
        if status == 200:
            assert isinstance(caught.value, RakutenInvalidResponse)
        with pytest.raises(RakutenTransientError):
            await client().check_credentials()


async def test_redirects_are_not_followed() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/sales_ws").mock(
            return_value=httpx.Response(302, headers={"location": f"{BASE}/elsewhere"})
        )
        elsewhere = mock.get(f"{BASE}/elsewhere").mock(return_value=httpx.Response(200))
        async with httpx.AsyncClient(follow_redirects=True) as shared:
            with pytest.raises(RakutenPermanentError, match="redirect"):
                await client(http=shared).get_new_sales()
            assert not shared.is_closed  # a shared client is never closed by the Rakuten client
    assert not elsewhere.called


@pytest.mark.parametrize(
    ("failure", "maybe_done"),
    [
        (httpx.ReadTimeout("slow"), True),
        (httpx.RemoteProtocolError("dropped"), True),
        (httpx.ReadError("reset"), True),
        (httpx.ConnectTimeout("slow"), False),
        (httpx.ConnectError("down"), False),
    ],
)
async def test_network_failures_are_transient_and_say_whether_rakuten_may_have_acted(
    failure: Exception, maybe_done: bool
) -> None:
    with respx.mock() as mock:
        mock.post(f"{BASE}/stock_ws").mock(side_effect=failure)
        with pytest.raises(RakutenTransientError) as caught:
            await client().upload_stock({"SKU-1": 3})
    assert isinstance(caught.value, RakutenAnswerLost) == maybe_done


async def test_response_size_is_capped(rakuten_fixture: Fixture) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture("getnewsales_many_iso8859.xml")))
        with pytest.raises(RakutenInvalidResponse, match="exceeds 1000 bytes"):
            await client(max_response_bytes=1000).get_new_sales()


@pytest.mark.parametrize("every", [0.05, 60.0, None], ids=["trickle", "stall", "headers-stall"])
async def test_a_slow_answer_stops_at_the_deadline(every: float | None) -> None:
    started = time.monotonic()
    with respx.mock(assert_all_called=False) as mock:  # a headers stall is given up before respx records it
        mock.get(f"{BASE}/sales_ws").mock(side_effect=slow_answer(every))
        with pytest.raises(RakutenTransientError, match="took longer than"):
            await client(timeout=5.0, deadline=0.5).get_new_sales()
    assert time.monotonic() - started < 20


async def test_per_item_actions_treat_the_wanted_state_as_done(rakuten_fixture: Fixture) -> None:
    info = rakuten_fixture("getiteminfos.xml")  # the item is ACCEPTED
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws", params={"action": "acceptsale"}).mock(
            return_value=xml(rakuten_fixture("error_parameter.xml"))
        )
        mock.get(f"{BASE}/sales_ws", params={"action": "refusesale"}).mock(
            return_value=xml(rakuten_fixture("error_parameter.xml"))
        )
        mock.get(f"{BASE}/sales_ws", params={"action": "getiteminfos"}).mock(return_value=xml(info))
        assert await client().accept_item("260306083") is ItemOutcome.ALREADY_DONE
        with pytest.raises(RakutenItemStateError) as caught:
            await client().refuse_item("260306083")
    assert (caught.value.item_status, caught.value.code) == ("ACCEPTED", "ParameterError")
    assert caught.value.details == ["Article 260306083 : a déjà été expédié"]


async def test_other_errors_of_per_item_actions_are_not_hidden(rakuten_fixture: Fixture) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture("error_rights.xml")))
        with pytest.raises(RakutenPermanentError) as caught:
            await client().accept_item("1")
    assert caught.value.code == "InvalidUserRights"
    assert not isinstance(caught.value, RakutenItemStateError)


async def test_comment_and_tracking_url_are_validated_before_calling() -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(f"{BASE}/sales_ws")
        for comment in ("", "   ", "x" * 401):
            with pytest.raises(ValueError, match="400"):
                await client().cancel_item("1", comment)
        with pytest.raises(ValueError, match="Autre"):
            await client().set_tracking(TrackingUpdate("1", "2", "Autre", "N1"))
    assert not route.called


async def test_a_refused_tracking_file_is_decided_item_by_item(rakuten_fixture: Fixture) -> None:
    """The file refused, each item's tracking is sent on its own: done, already done (a tracking number
    known), or refused with the item's status there."""
    shipped = rakuten_fixture("getiteminfos.xml").replace(b"</sku>", b"</sku><trackingnumber>OLD</trackingnumber>")
    cancelled = rakuten_fixture("getiteminfos.xml").replace(b"ACCEPTED", b"CANCELLED")
    error = rakuten_fixture("error_parameter.xml")
    by_item = {"1": xml(rakuten_fixture("settracking_ok.xml")), "2": xml(error), "3": xml(error)}
    infos = {"2": xml(shipped), "3": xml(cancelled)}

    def answer(request: httpx.Request) -> httpx.Response:
        query = request.url.params
        if query["action"] == "settrackingpackageinfos":
            return by_item[query["itemid"]]
        return infos[query["itemid"]]

    updates = [TrackingUpdate(i, "31862101", "Cubyn", f"CUB{i}", f"https://t/CUB{i}") for i in ("1", "2", "3")]
    with respx.mock() as mock:
        mock.post(f"{BASE}/sales_ws").mock(return_value=xml(error))
        mock.get(f"{BASE}/sales_ws").mock(side_effect=answer)
        assert not await client().send_tracking_file(updates)
        assert await client().set_tracking(updates[0]) is ItemOutcome.DONE
        assert await client().set_tracking(updates[1]) is ItemOutcome.ALREADY_DONE
        with pytest.raises(RakutenItemStateError) as refused:
            await client().set_tracking(updates[2])
    assert refused.value.item_status == "CANCELLED"


async def test_a_tracking_file_lets_transient_errors_through(rakuten_fixture: Fixture) -> None:
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture("error_server.xml"), 500))
        with pytest.raises(RakutenTransientError):
            await client().send_tracking_file([UPDATE])
        assert await client().send_tracking_file([])  # nothing to send: no call
    assert route.call_count == 1


async def test_canary_token_never_leaks(
    rakuten_fixture: Fixture, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    canary = "CANARY-9c1d5e0f-do-not-leak"
    echo = rakuten_fixture("error_rights.xml").replace(b"You must", f"pwd={canary} {canary} You must".encode())
    failures: list[httpx.Response | Exception] = [
        xml(rakuten_fixture("error_credentials.xml")),
        xml(rakuten_fixture("error_quota.xml")),
        xml(echo),
        httpx.Response(502, text=f"<html>{canary}</html>"),
        httpx.Response(200, text=f"<broken>{canary}"),
        httpx.ReadTimeout(f"timed out on {BASE}/sales_ws?pwd={canary}"),
        httpx.ConnectError(f"cannot reach {BASE}/sales_ws?pwd={canary}"),
        xml(rakuten_fixture("getnewsales_empty.xml")),
    ]
    errors: list[BaseException] = []
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(side_effect=failures)
        for _ in failures:
            try:
                await client(token=canary).get_new_sales()
            except Exception as exc:
                errors.append(exc)
    assert len(errors) == len(failures) - 1
    captured = capsys.readouterr()
    texts = [caplog.text, captured.out, captured.err, repr(client(token=canary))]
    for error in errors:
        texts += [str(error), repr(error), str(vars(error))]
    assert all(canary not in text for text in texts)
