"""The Rakuten client's exact requests and its error handling, against respx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, TypeVar

import httpx
import pytest
import respx
from lxml import etree
from pydantic import SecretStr

from rakuten_connector.clients.rakuten import (
    RakutenClient,
    RakutenInvalidResponse,
    RakutenItemStateError,
    RakutenPermanentError,
    RakutenTransientError,
)
from rakuten_connector.clients.rakuten_models import ItemOutcome, TrackingUpdate

BASE = "https://ws.example.test"
LOGIN, TOKEN = "boutique", "s3cr3t-token"
NOW = datetime(2024, 3, 1, 10, 17, tzinfo=UTC)
Fixture = Callable[[str], bytes]
T = TypeVar("T")


def client(token: str = TOKEN, **kwargs: Any) -> RakutenClient:
    return RakutenClient(BASE, LOGIN, SecretStr(token), clock=lambda: NOW, **kwargs)


async def collect(items: AsyncIterator[T]) -> list[T]:
    """Every item of a streamed reading, for the assertions."""
    return [item async for item in items]


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
        lambda c: collect(c.iter_current_sales(date(2024, 2, 1))),
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
    ("export", lambda c: collect(c.iter_export()), "stock_ws", auth("export", "2018-06-29"), "export_page2.xml"),
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
        current = await collect(client().iter_current_sales())
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
            await collect(client().iter_current_sales())


async def test_pending_report_is_not_processed(rakuten_fixture: Fixture) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/stock_ws").mock(return_value=xml(rakuten_fixture("report_pending.xml")))
        report = await client().get_import_report("1")
    assert (report.file_status, report.processed, report.products) == ("En attente", False, ())


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
    """The file refused, each item's tracking is sent on its own: done, already done (Rakuten says the
    item was shipped), or refused with the item's status there (accepted and not shipped: refused too)."""
    info = rakuten_fixture("getiteminfos.xml")  # ACCEPTED, <shipped>0</shipped>
    shipped = info.replace(b"<shipped>0</shipped>", b"<shipped>1</shipped>")
    cancelled = info.replace(b"ACCEPTED", b"CANCELLED")
    error = rakuten_fixture("error_parameter.xml")
    by_item = {"1": xml(rakuten_fixture("settracking_ok.xml")), "2": xml(error), "3": xml(error), "4": xml(error)}
    infos = {
        n: xml(body.replace(b"260306083", n.encode()))
        for n, body in (("2", shipped), ("3", cancelled), ("4", info))
    }

    def answer(request: httpx.Request) -> httpx.Response:
        query = request.url.params
        if query["action"] == "settrackingpackageinfos":
            return by_item[query["itemid"]]
        return infos[query["itemid"]]

    updates = [TrackingUpdate(i, "31862101", "Cubyn", f"CUB{i}", f"https://t/CUB{i}") for i in "1234"]
    with respx.mock() as mock:
        mock.post(f"{BASE}/sales_ws").mock(return_value=xml(error))
        mock.get(f"{BASE}/sales_ws").mock(side_effect=answer)
        assert not await client().send_tracking_file(updates)
        assert await client().set_tracking(updates[0]) is ItemOutcome.DONE
        assert await client().set_tracking(updates[1]) is ItemOutcome.ALREADY_DONE
        with pytest.raises(RakutenItemStateError) as refused:
            await client().set_tracking(updates[2])
        with pytest.raises(RakutenItemStateError) as not_shipped:
            await client().set_tracking(updates[3])
    assert refused.value.item_status == "CANCELLED"
    assert not_shipped.value.item_status == "ACCEPTED"


async def test_getiteminfos_is_only_called_after_a_refusal(rakuten_fixture: Fixture) -> None:
    """getiteminfos marks the buyer's messages as read: reading sales, the export, a report, and every
    per-item action Rakuten takes, never call it. Only a refused action reads the item, once."""
    answers = {
        "getnewsales": "getnewsales_many_iso8859.xml",
        "getcurrentsales": "getcurrentsales_page2.xml",
        "acceptsale": "acceptsale_ok.xml",
        "refusesale": "refusesale_ok.xml",
        "cancelitem": "cancelitem_ok.xml",
        "settrackingpackageinfos": "settracking_ok.xml",
        "export": "export_page2.xml",
        "genericimportreport": "report_pending.xml",
    }
    with respx.mock() as mock:
        for action, answer in answers.items():
            mock.get(params={"action": action}).mock(return_value=xml(rakuten_fixture(answer)))
        mock.post(f"{BASE}/sales_ws").mock(return_value=xml(rakuten_fixture("importitemshippingstatus_ok.xml")))
        infos = mock.get(f"{BASE}/sales_ws", params={"action": "getiteminfos"}).mock(
            return_value=xml(rakuten_fixture("getiteminfos.xml"))
        )
        rakuten = client()
        await rakuten.get_new_sales()
        await collect(rakuten.iter_current_sales())
        await collect(rakuten.iter_export())
        await rakuten.get_import_report("1")
        assert await rakuten.accept_item("1") is ItemOutcome.DONE
        assert await rakuten.refuse_item("2") is ItemOutcome.DONE
        assert await rakuten.cancel_item("3", "Rupture") is ItemOutcome.DONE
        assert await rakuten.set_tracking(UPDATE) is ItemOutcome.DONE
        assert await rakuten.send_tracking_file([UPDATE])
        assert infos.call_count == 0
        mock.get(params={"action": "acceptsale"}).mock(return_value=xml(rakuten_fixture("error_parameter.xml")))
        assert await rakuten.accept_item("260306083") is ItemOutcome.ALREADY_DONE
        assert infos.call_count == 1


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
