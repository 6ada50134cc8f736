from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from rakuten_connector.clients.cubyn import (
    CATALOG_CONCURRENCY,
    CATALOG_PAGE_LIMIT,
    MAX_RESPONSE_BYTES,
    CubynAuthError,
    CubynClient,
    CubynInvalidFields,
    CubynInvalidResponse,
    CubynNotCancellable,
    CubynNotFound,
    CubynPermanentError,
    CubynRateLimited,
    CubynTransientError,
)
from rakuten_connector.clients.cubyn_models import Parcel, ParcelAddress, ParcelItem, ParcelRequest
from tests.clients.streams import Endless, slow_answer

BASE = "https://cubyn.test/v2"
KEY = "app-key-very-secret"

PARCEL = {
    "id": 123456,
    "orderRef": "RAKUTEN-1",
    "status": "CREATED",
    "validations": {"address": {"status": "PASSED"}, "stock": {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}},
    "validatedAt": None,
    "deliveryMode": "STANDARD",
    "deliverySigned": False,
    "carrier": None,
    "carrierTrackingId": None,
    "createdAt": "2026-11-27T10:00:00Z",
    "updatedAt": "2026-11-27T10:00:00Z",
    "shippedAt": None,
    "somethingNew": [1, 2],
}
REQUEST = ParcelRequest(
    order_ref="RAKUTEN-1",
    last_name="Dupont",
    address=ParcelAddress(line1="1 rue", zip="75001", city="Paris", country="FR"),
    delivery_mode="STANDARD",
    items=(ParcelItem(sku="SKU-1", quantity=2),),
)


@pytest.fixture
async def client() -> AsyncIterator[CubynClient]:
    async with httpx.AsyncClient() as http:
        yield CubynClient(BASE, SecretStr(KEY), http=http, timeout=2.0)


@respx.mock
async def test_check_key_sends_the_key_header(client: CubynClient) -> None:
    route = respx.get(f"{BASE}/").respond(200, json={"name": "cubyn.api", "auth": {"application": {"id": 1}}})
    assert (await client.check_key())["name"] == "cubyn.api"
    assert route.calls.last.request.headers["X-Application"] == KEY


@respx.mock
async def test_check_key_without_own_http_client() -> None:
    respx.get(f"{BASE}/").respond(401, json={"message": "nope"})
    with pytest.raises(CubynAuthError) as raised:
        await CubynClient(BASE, SecretStr(KEY)).check_key()
    assert KEY not in str(raised.value)
    assert KEY not in repr(CubynClient(BASE, SecretStr(KEY)))


@respx.mock
async def test_create_parcel(client: CubynClient) -> None:
    route = respx.post(f"{BASE}/parcels").respond(201, json=PARCEL)
    result = await client.create_parcel(REQUEST)
    assert (result.created, result.parcel_id) == (True, "123456")
    assert result.parcel is not None
    assert result.parcel.status == "CREATED"
    sent = route.calls.last.request
    assert sent.headers["Idempotency-Key"] == "RAKUTEN-1"
    body = json.loads(sent.content)
    assert body["orderRef"] == "RAKUTEN-1"
    assert body["address"] == {
        "line1": "1 rue",
        "line2": None,
        "additionalInformation": None,
        "zip": "75001",
        "city": "Paris",
        "country": "FR",
    }
    assert body["items"] == [{"sku": "SKU-1", "quantity": 2}]


@respx.mock
async def test_create_parcel_409_adopts_the_existing_parcel(client: CubynClient) -> None:
    respx.post(f"{BASE}/parcels").respond(409, json={"message": "exists", "parcelId": 777})
    result = await client.create_parcel(REQUEST.to_json(), idempotency_key="RAKUTEN-1")
    assert (result.created, result.parcel_id, result.parcel) == (False, "777", None)


@respx.mock
@pytest.mark.parametrize(
    "answer",
    [
        {"message": "conflict"},
        {"message": "conflict", "parcelId": "777"},
        {"message": "conflict", "parcelId": True},
        {"message": "conflict", "parcelId": 777.0},
        {"message": "conflict", "parcelId": -1},
        {"message": "conflict", "parcelId": 2**63},
    ],
    ids=["no-id", "string", "bool", "float", "negative", "2**63"],
)
async def test_create_parcel_409_without_a_parcel_id_is_permanent(
    client: CubynClient, answer: dict[str, Any]
) -> None:
    respx.post(f"{BASE}/parcels").respond(409, json=answer)
    with pytest.raises(CubynPermanentError) as raised:
        await client.create_parcel(REQUEST)
    assert raised.value.status_code == 409


@respx.mock
async def test_create_parcel_400_lists_the_fields(client: CubynClient) -> None:
    errors = [{"field": "address.line1", "message": "too long"}, {"field": "phone", "message": "bad"}]
    respx.post(f"{BASE}/parcels").respond(400, json={"message": "Invalid parcel", "errors": errors})
    with pytest.raises(CubynInvalidFields) as raised:
        await client.create_parcel(REQUEST)
    assert [e.field for e in raised.value.errors] == ["address.line1", "phone"]
    assert "address.line1" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (401, {}, CubynAuthError, None),
        (429, {"Retry-After": "7"}, CubynRateLimited, 7.0),
        (429, {}, CubynRateLimited, None),
        (429, {"Retry-After": "soon"}, CubynRateLimited, None),
        (500, {}, CubynTransientError, None),
        (503, {}, CubynTransientError, None),
        (403, {}, CubynPermanentError, None),
        (422, {}, CubynPermanentError, None),
    ],
)
@respx.mock
async def test_error_taxonomy(
    client: CubynClient, status: int, headers: dict[str, str], error: type[Exception], retry_after: float | None
) -> None:
    respx.post(f"{BASE}/parcels").respond(status, json={"message": "x"}, headers=headers)
    with pytest.raises(error) as raised:
        await client.create_parcel(REQUEST)
    if isinstance(raised.value, CubynRateLimited):
        assert raised.value.retry_after == retry_after


@pytest.mark.parametrize(
    "side_effect", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), httpx.RemoteProtocolError("bye")]
)
@respx.mock
async def test_network_errors_are_transient(client: CubynClient, side_effect: Exception) -> None:
    respx.get(f"{BASE}/parcels/1").mock(side_effect=side_effect)
    with pytest.raises(CubynTransientError):
        await client.get_parcel("1")


@respx.mock
async def test_unreadable_answers_are_transient(client: CubynClient) -> None:
    respx.get(f"{BASE}/parcels/1").respond(200, text="<html>")
    respx.get(f"{BASE}/parcels/2").respond(200, json={"status": "CREATED"})  # no id
    for parcel_id in ("1", "2"):
        with pytest.raises(CubynTransientError):
            await client.get_parcel(parcel_id)


@respx.mock
async def test_get_parcel_tolerates_unknown_fields_and_statuses(client: CubynClient) -> None:
    respx.get(f"{BASE}/parcels/123456").respond(200, json={**PARCEL, "status": "TELEPORTED", "validations": None})
    parcel = await client.get_parcel("123456")
    assert parcel.status == "TELEPORTED"
    assert parcel.validations == {}
    assert parcel.tracking_id == "CUB123456"


@pytest.mark.parametrize("parcel_id", [0, 123456, 2**63 - 1])
def test_a_parcel_id_is_the_decimal_text_of_cubyns_integer(parcel_id: int) -> None:
    parcel = Parcel.model_validate({**PARCEL, "id": parcel_id})
    assert parcel.id == str(parcel_id)
    assert parcel.tracking_id == f"CUB{parcel_id}"
    assert Parcel.model_validate_json(json.dumps({**PARCEL, "id": parcel_id})).id == str(parcel_id)


@respx.mock
@pytest.mark.parametrize(
    "parcel_id",
    ["1", "0x1F", " 1", True, 1.0, -1, 2**63, None],
    ids=["string", "hex-string", "padded-string", "bool", "float", "negative", "2**63", "null"],
)
async def test_a_parcel_id_in_the_answer_is_only_a_json_integer(client: CubynClient, parcel_id: object) -> None:
    respx.get(f"{BASE}/parcels/1").respond(200, json={**PARCEL, "id": parcel_id})
    with pytest.raises(CubynTransientError, match="unreadable parcel"):
        await client.get_parcel("1")


@respx.mock
@pytest.mark.parametrize("parcel_id", ["", "1/../2", "12a", "-1", " 1", "\u0661"])
async def test_what_is_not_a_parcel_id_is_never_sent(client: CubynClient, parcel_id: str) -> None:
    route = respx.route().respond(200, json=PARCEL)
    with pytest.raises(ValueError, match="not a Cubyn parcel id"):
        await client.get_parcel(parcel_id)
    with pytest.raises(ValueError, match="not a Cubyn parcel id"):
        await client.cancel_parcel(parcel_id)
    assert route.call_count == 0


@respx.mock
async def test_get_parcel_404(client: CubynClient) -> None:
    respx.get(f"{BASE}/parcels/9").respond(404, json={"message": "not found"})
    with pytest.raises(CubynNotFound):
        await client.get_parcel("9")


@respx.mock
async def test_find_parcel(client: CubynClient) -> None:
    route = respx.get(f"{BASE}/parcels").mock(
        side_effect=lambda request: httpx.Response(
            200, json=[PARCEL] if request.url.params["orderRef"] == "RAKUTEN-1" else []
        )
    )
    found = await client.find_parcel("RAKUTEN-1")
    assert found is not None
    assert found.id == "123456"
    assert found.failed_checks()["stock"].error == "STOCK_CHECK_FAILED"
    assert await client.find_parcel("RAKUTEN-2") is None
    assert route.call_count == 2


@respx.mock
async def test_cancel_parcel(client: CubynClient) -> None:
    respx.put(f"{BASE}/parcels/1/cancel").respond(200, json={**PARCEL, "id": 1, "status": "CANCELLED"})
    respx.put(f"{BASE}/parcels/2/cancel").respond(409, json={"message": "Parcel is PICKED"})
    respx.put(f"{BASE}/parcels/3/cancel").respond(404, json={"message": "nope"})
    assert (await client.cancel_parcel("1")).status == "CANCELLED"
    with pytest.raises(CubynNotCancellable) as raised:
        await client.cancel_parcel("2")
    assert "PICKED" in raised.value.message
    with pytest.raises(CubynNotFound):
        await client.cancel_parcel("3")


def _catalog(total: int, header: bool = True, width: int = 3) -> Any:
    products = [{"sku": f"SKU-{i:0{width}d}", "name": "x", "stock": {"available": i}} for i in range(total)]

    def answer(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        assert limit <= 100
        headers = {"x-total-count": str(total)} if header else {}
        return httpx.Response(200, json=products[offset : offset + limit], headers=headers)

    return answer


@pytest.mark.parametrize(
    ("total", "header", "calls"), [(0, True, 1), (100, True, 1), (250, True, 3), (250, False, 3)]
)
@respx.mock
async def test_iter_catalog_reads_every_page(client: CubynClient, total: int, header: bool, calls: int) -> None:
    route = respx.get(f"{BASE}/product-catalog/products").mock(side_effect=_catalog(total, header))
    products = [p async for p in client.iter_catalog()]
    assert [p.sku for p in products] == [f"SKU-{i:03d}" for i in range(total)]
    assert all(p.stock.available == i for i, p in enumerate(products))
    assert route.call_count == calls


@respx.mock
async def test_catalog_error_midway(client: CubynClient) -> None:
    respx.get(f"{BASE}/product-catalog/products").mock(
        side_effect=[
            httpx.Response(200, json=[{"sku": "A"}] * 100, headers={"x-total-count": "300"}),
            httpx.Response(502),
        ]
    )
    with pytest.raises(CubynTransientError):
        _ = [p async for p in client.iter_catalog()]


@respx.mock
async def test_a_huge_answer_is_cut_at_the_cap() -> None:
    stream = Endless(b"[" + b"1," * 32768, count=10_000)
    respx.get(f"{BASE}/").mock(return_value=httpx.Response(200, stream=stream))
    async with httpx.AsyncClient() as http:
        with pytest.raises(CubynInvalidResponse, match="exceeds 1048576 bytes"):
            await CubynClient(BASE, SecretStr(KEY), http=http, max_response_bytes=1024 * 1024).check_key()
    assert stream.sent <= 17


@respx.mock
async def test_the_default_cap_holds_a_catalogue_page_but_not_more() -> None:
    product = {"sku": "SKU-" + "x" * 200, "name": "Produit " * 20, "stock": {"available": 3}}
    page = [{**product, "sku": f"{product['sku']}-{n}"} for n in range(CATALOG_PAGE_LIMIT)]
    total = {"X-Total-Count": str(CATALOG_PAGE_LIMIT)}
    respx.get(f"{BASE}/product-catalog/products").respond(200, json=page, headers=total)
    stream = Endless(b" " * 65536, count=10_000)
    respx.get(f"{BASE}/").mock(return_value=httpx.Response(200, stream=stream))
    async with httpx.AsyncClient() as http:
        cubyn = CubynClient(BASE, SecretStr(KEY), http=http)
        assert len([p async for p in cubyn.iter_catalog()]) == CATALOG_PAGE_LIMIT
        with pytest.raises(CubynInvalidResponse, match="exceeds"):
            await cubyn.check_key()
    assert stream.sent <= MAX_RESPONSE_BYTES // 65536 + 1


@respx.mock
@pytest.mark.parametrize("every", [0.05, 60.0, None], ids=["trickle", "stall", "headers-stall"])
async def test_a_slow_answer_stops_at_the_deadline(every: float | None) -> None:
    respx.get(f"{BASE}/").mock(side_effect=slow_answer(every))
    started = time.monotonic()
    async with httpx.AsyncClient() as http:
        with pytest.raises(CubynTransientError, match=r"took longer than 0\.5 s"):
            await CubynClient(BASE, SecretStr(KEY), http=http, timeout=5.0, deadline=0.5).check_key()
    assert time.monotonic() - started < 20


# An unreadable body: with 200 the answer is invalid (tried again); a refusal stays a refusal.
UNREADABLE_CREATE_ANSWER = {200: CubynInvalidResponse, 400: CubynInvalidFields, 409: CubynPermanentError}


@respx.mock
@pytest.mark.parametrize("status", [200, 400, 409])
async def test_deeply_nested_json_is_an_invalid_answer(status: int) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    respx.get(f"{BASE}/").respond(200, content=deep)
    respx.get(f"{BASE}/parcels/1").respond(200, content=b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    respx.post(f"{BASE}/parcels").respond(status, content=deep)
    async with httpx.AsyncClient() as http:
        cubyn = CubynClient(BASE, SecretStr(KEY), http=http)
        with pytest.raises(CubynInvalidResponse, match="not readable JSON"):
            await cubyn.check_key()
        with pytest.raises(CubynInvalidResponse):
            await cubyn.get_parcel("1")
        with pytest.raises(UNREADABLE_CREATE_ANSWER[status]):
            await cubyn.create_parcel(REQUEST)


@respx.mock
async def test_an_answer_that_is_not_json_is_an_invalid_answer() -> None:
    respx.get(f"{BASE}/").respond(200, content=b"\xff<html>")
    async with httpx.AsyncClient() as http:
        with pytest.raises(CubynInvalidResponse):
            await CubynClient(BASE, SecretStr(KEY), http=http).check_key()


@respx.mock
async def test_the_catalogue_pages_after_the_first_are_read_a_few_at_a_time_in_order(client: CubynClient) -> None:
    total, running, most = 1050, [0], [0]
    serve = _catalog(total, width=4)

    async def answer(request: httpx.Request) -> httpx.Response:
        running[0] += 1
        most[0] = max(most[0], running[0])
        await asyncio.sleep(0.01 if int(request.url.params["offset"]) % 300 else 0.03)  # some pages slower
        running[0] -= 1
        return serve(request)

    route = respx.get(f"{BASE}/product-catalog/products").mock(side_effect=answer)
    products = [p async for p in client.iter_catalog()]
    assert [p.sku for p in products] == [f"SKU-{i:04d}" for i in range(total)]
    assert route.call_count == 11
    assert most[0] == CATALOG_CONCURRENCY


@respx.mock
async def test_a_catalogue_that_changes_while_read_loses_no_product(client: CubynClient) -> None:
    """Cubyn serving 40 per page, a page cut short midway (products removed), then the total growing: the
    reading goes on from where each page really ended."""
    products = [{"sku": f"SKU-{i:04d}", "stock": {"available": 1}} for i in range(200)]
    total = [200]

    def answer(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        # The page at 80 is served short, as if the catalogue had shrunk under the reader.
        page = products[80:90] if offset == 80 else products[offset : offset + 40]
        if offset >= 160:
            total[0] = 230
            products.extend({"sku": f"SKU-{i:04d}", "stock": {"available": 1}} for i in range(len(products), 230))
        return httpx.Response(200, json=page, headers={"x-total-count": str(total[0])})

    respx.get(f"{BASE}/product-catalog/products").mock(side_effect=answer)
    skus = [p.sku async for p in client.iter_catalog()]
    assert skus == [f"SKU-{i:04d}" for i in range(230)]
