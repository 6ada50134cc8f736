"""How the Rakuten client travels and reads: an `errorresponse` whatever the HTTP status, HTTP and network
failures typed (and whether Rakuten may have acted), charsets, redirects, the size cap and the deadline."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
import respx

from rakuten_connector.clients.rakuten import (
    RakutenAnswerLost,
    RakutenCredentialsError,
    RakutenInvalidResponse,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from tests.clients.streams import slow_answer
from tests.clients.test_rakuten_client import BASE, Fixture, client, xml


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
