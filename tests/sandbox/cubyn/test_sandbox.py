"""The Cubyn simulator, over HTTP; its webhooks are checked by an independent signature implementation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.serve import serve
from tests.waiting import wait_until

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
MANUAL = {"validate": None, "pick": None, "pack": None, "ship": None}


def verify_signature(secret: str, headers: httpx.Headers | dict[str, str], body: bytes) -> bool:
    """Standard Webhooks, written from the spec (not with the library the sandbox uses)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
        return False
    candidates = [part.split(",", 1) for part in headers["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(sig, expected) for version, sig in candidates)


@dataclass
class Receiver:
    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        parsed = [json.loads(body) for _, body in self.received]
        return [e for e in parsed if event_type is None or e["type"] == event_type]


@dataclass
class Env:
    http: httpx.AsyncClient
    receiver: Receiver
    key: str
    app_id: int

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, f"/_sandbox{path}", json=body)
        assert response.status_code < 300, response.text
        return response.json()

    async def create(self, ref: str = "RAKUTEN-1", **changes: Any) -> httpx.Response:
        body = {**parcel_body(ref), **changes}
        return await self.http.post("/parcels", json=body, headers={"X-Application": self.key})

    async def parcel(self, parcel_id: int) -> dict[str, Any]:
        response = await self.http.get(f"/parcels/{parcel_id}", headers={"X-Application": self.key})
        return dict(response.json())


def parcel_body(ref: str, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "orderRef": ref,
        "firstName": "Jean",
        "lastName": "Dupont",
        "email": "jean@example.fr",
        "phone": "0612345678",
        "address": {"line1": "12 rue de la Paix", "zip": "75002", "city": "Paris", "country": "FR"},
        "deliveryMode": "STANDARD",
        "deliverySigned": False,
        "relayPoint": None,
        "items": items or [{"sku": "SKU-1", "quantity": 2}],
    }


@pytest.fixture(scope="module")
async def servers() -> AsyncIterator[tuple[Receiver, httpx.AsyncClient]]:
    """One receiver and one sandbox for the module (reset before each test): starting uvicorn costs time."""
    receiver = Receiver()

    async def hook(request: Request) -> Response:
        receiver.received.append((dict(request.headers), await request.body()))
        if receiver.fail_next > 0:
            receiver.fail_next -= 1
            return JSONResponse({"error": "try later"}, status_code=503)
        return Response(status_code=204)

    sandbox = create_cubyn_sandbox(delays=LifecycleDelays(**MANUAL), webhook_retry_base=0.01)
    async with (
        serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as hook_url,
        serve(sandbox) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=5) as http,
    ):
        receiver.url = f"{hook_url}/hook"
        yield receiver, http


@pytest.fixture
async def env(servers: tuple[Receiver, httpx.AsyncClient]) -> Env:
    receiver, http = servers
    assert (await http.post("/_sandbox/reset")).status_code == 200

    async def quiet() -> bool:  # no delivery of the previous test still on its way
        return not (await http.get("/_sandbox/webhooks")).json()["in_flight"]

    await wait_until(quiet)
    receiver.received.clear()
    receiver.fail_next = 0
    answer = await http.post(
        "/_sandbox/applications",
        json={"merchant_id": "m1", "name": "Rakuten", "webhook_url": receiver.url, "webhook_secret": SECRET},
    )
    assert answer.status_code == 201
    app = answer.json()
    environment = Env(http, receiver, app["key"], app["id"])
    await environment.control("PUT", "/merchants/m1/products", {"products": [{"sku": "SKU-1", "available": 5}]})
    return environment


async def test_root_and_key_check(env: Env) -> None:
    ok = await env.http.get("/", headers={"X-Application": env.key})
    assert ok.json() == {
        "name": "cubyn.api",
        "version": "2.0.0-sandbox",
        "auth": {"application": {"id": env.app_id, "name": "Rakuten"}},
    }
    for headers in ({"X-Application": "wrong"}, {}):
        refused = await env.http.get("/", headers=headers)
        assert refused.status_code == 401
        assert "message" in refused.json()


async def test_full_lifecycle_with_signed_webhooks(env: Env) -> None:
    created = await env.create()
    assert created.status_code == 201
    parcel = created.json()
    assert (parcel["status"], parcel["validatedAt"], parcel["orderRef"]) == ("CREATED", None, "RAKUTEN-1")
    await env.control("PUT", "/lifecycle", {"validate": 0, "pick": 0.01, "pack": 0.01, "ship": 0.01})
    await env.control("POST", f"/parcels/{parcel['id']}/advance")  # validate now; the rest follows alone

    async def shipped() -> bool:
        return bool((await env.parcel(parcel["id"]))["status"] == "SHIPPED")

    await wait_until(shipped)
    final = await env.parcel(parcel["id"])
    assert final["carrier"] == "COLISSIMO"
    assert final["carrierTrackingId"]
    assert final["shippedAt"]
    assert final["validations"] == {"address": {"status": "PASSED"}, "stock": {"status": "PASSED"}}

    async def all_delivered() -> bool:
        return len(env.receiver.events("parcel.updated")) >= 5 and bool(env.receiver.events("stock.updated"))

    await wait_until(all_delivered)
    for headers, body in env.receiver.received:
        assert verify_signature(SECRET, headers, body)
        assert not verify_signature(SECRET, headers, body + b" ")
    # Deliveries run concurrently, so they may arrive in any order: the parcel's own times order them.
    updates = sorted((e["data"] for e in env.receiver.events("parcel.updated")), key=lambda u: u["updatedAt"])
    assert [(u["status"], u["validatedAt"] is not None) for u in updates] == [
        ("CREATED", False),
        ("CREATED", True),
        ("PICKED", True),
        ("PACKED", True),
        ("SHIPPED", True),
    ]
    assert len({u["updatedAt"] for u in updates}) == len(updates)
    assert env.receiver.events("stock.updated")[0]["data"] == {
        "sku": "SKU-1",
        "available": 3,
        "movement": "FULFILMENT",
        "delta": -2,
    }
    ids = [headers["webhook-id"] for headers, _ in env.receiver.received]
    assert len(set(ids)) == len(ids)


async def test_invalid_fields_answer_400_with_the_list(env: Env) -> None:
    bad = parcel_body("RAKUTEN-2")
    bad["lastName"] = "X" * 36
    bad["address"] = {"line1": "", "zip": "123456789", "city": "Paris", "country": "France"}
    bad["phone"] = "123"
    bad["deliveryMode"] = "RELAY"
    bad["items"] = [{"sku": "", "quantity": 0}]
    answer = await env.http.post("/parcels", json=bad, headers={"X-Application": env.key})
    assert answer.status_code == 400
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {
        "lastName",
        "address.line1",
        "address.zip",
        "address.country",
        "phone",
        "relayPoint",
        "items[0].sku",
        "items[0].quantity",
    }
    assert (await env.control("GET", "/parcels"))["parcels"] == []


async def test_repeated_order_ref_answers_409_with_parcel_id(env: Env) -> None:
    first = (await env.create()).json()
    again = await env.create()
    assert again.status_code == 409
    assert again.json()["parcelId"] == first["id"]
    received = (await env.control("GET", "/received"))["received"]
    assert [r["status_code"] for r in received] == [201, 409]
    assert all(r["idempotency_key"] is None for r in received)  # this test sent none


async def test_cancel_only_while_created(env: Env) -> None:
    a, b = (await env.create("RAKUTEN-A")).json(), (await env.create("RAKUTEN-B")).json()
    headers = {"X-Application": env.key}
    cancelled = await env.http.put(f"/parcels/{a['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    await env.control("POST", f"/parcels/{b['id']}/status", {"status": "PICKED"})
    refused = await env.http.put(f"/parcels/{b['id']}/cancel", headers=headers)
    assert refused.status_code == 409
    assert "PICKED" in refused.json()["message"]
    missing = await env.http.put("/parcels/999/cancel", headers=headers)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("items", "address", "check", "outcome"),
    [
        ([{"sku": "SKU-1", "quantity": 6}], None, "stock", {"status": "FAILED", "error": "STOCK_CHECK_FAILED"}),
        ([{"sku": "NOPE", "quantity": 1}], None, "stock", {"status": "FAILED", "error": "VALIDATION_FAILED"}),
        (
            None,
            {"line1": "1 rue", "zip": "7500", "city": "Paris", "country": "FR"},
            "address",
            {"status": "FAILED"},
        ),
    ],
)
async def test_failed_validation_keeps_the_parcel_created(
    env: Env, items: Any, address: Any, check: str, outcome: dict[str, str]
) -> None:
    changes: dict[str, Any] = {"items": items} if items else {"address": address}
    parcel = (await env.create(**changes)).json()
    await env.control("POST", f"/parcels/{parcel['id']}/advance")
    after = await env.parcel(parcel["id"])
    assert (after["status"], after["validatedAt"]) == ("CREATED", None)
    assert after["validations"][check] == outcome


async def test_restock_revalidates_and_reserves(env: Env) -> None:
    big = (await env.create("RAKUTEN-BIG", items=[{"sku": "SKU-1", "quantity": 7}])).json()
    await env.control("POST", f"/parcels/{big['id']}/advance")
    assert (await env.parcel(big["id"]))["validations"]["stock"]["error"] == "STOCK_CHECK_FAILED"
    await env.control("POST", "/merchants/m1/stock-movements", {"sku": "SKU-1", "delta": 3, "movement": "INBOUND"})
    assert (await env.parcel(big["id"]))["validatedAt"] is not None
    # 8 in stock, 7 promised: a second parcel for 2 units must fail.
    other = (await env.create("RAKUTEN-OTHER", items=[{"sku": "SKU-1", "quantity": 2}])).json()
    await env.control("POST", f"/parcels/{other['id']}/advance")
    assert (await env.parcel(other["id"]))["validations"]["stock"]["status"] == "FAILED"
    products = (await env.control("GET", "/merchants/m1/products"))["products"]
    assert products == [{"sku": "SKU-1", "name": "SKU-1", "stock": {"available": 8, "reserved": 7, "stored": 8}}]

    async def inbound_sent() -> bool:
        return any(e["data"]["movement"] == "INBOUND" for e in env.receiver.events("stock.updated"))

    await wait_until(inbound_sent)
    assert env.receiver.events("stock.updated")[0]["data"] == {
        "sku": "SKU-1",
        "available": 8,
        "movement": "INBOUND",
        "delta": 3,
    }


async def test_a_recheck_that_changes_nothing_sends_no_event(env: Env) -> None:
    big = (await env.create("RAKUTEN-BIG", items=[{"sku": "SKU-1", "quantity": 50}])).json()
    await env.control("POST", f"/parcels/{big['id']}/advance")
    movement = {"sku": "SKU-1", "delta": 1, "movement": "INBOUND"}
    for _ in range(5):  # still far too few: the stock check fails again, the parcel is unchanged
        await env.control("POST", "/merchants/m1/stock-movements", movement)

    async def all_sent() -> bool:
        queue = await env.control("GET", "/webhooks")
        return len(env.receiver.events("stock.updated")) == 5 and not queue["pending"] and not queue["in_flight"]

    await wait_until(all_sent)
    updates = [e for e in env.receiver.events("parcel.updated") if e["data"]["id"] == big["id"]]
    assert [u["data"]["validations"]["stock"]["status"] for u in updates] == ["PENDING", "FAILED"]


async def test_non_2xx_deliveries_are_retried(env: Env) -> None:
    env.receiver.fail_next = 2
    await env.create()

    async def delivered() -> bool:
        log = (await env.control("GET", "/webhooks"))["deliveries"]
        return any(entry["delivered"] for entry in log)

    await wait_until(delivered)
    log = (await env.control("GET", "/webhooks"))["deliveries"]
    assert [(e["attempt"], e["status_code"], e["delivered"]) for e in log] == [
        (1, 503, False),
        (2, 503, False),
        (3, 204, True),
    ]
    assert len({headers["webhook-id"] for headers, _ in env.receiver.received}) == 1


async def test_duplicate_and_reordered_deliveries(env: Env) -> None:
    await env.control("PUT", "/faults", {"duplicate_deliveries": True})
    await env.control("POST", "/webhooks/hold")
    parcel = (await env.create()).json()
    await env.control("POST", f"/parcels/{parcel['id']}/status", {"status": "PICKED"})
    assert (await env.control("GET", "/webhooks"))["pending"] == 4
    await env.control("POST", "/webhooks/release", {"order": "reverse"})

    async def all_in() -> bool:
        return len(env.receiver.received) == 4

    await wait_until(all_in)
    statuses = [e["data"]["status"] for e in env.receiver.events()]
    assert statuses == ["PICKED", "PICKED", "CREATED", "CREATED"]
    ids = [headers["webhook-id"] for headers, _ in env.receiver.received]
    assert ids[0] == ids[1]
    assert ids[2] == ids[3]
    assert ids[0] != ids[2]
    assert all(verify_signature(SECRET, h, b) for h, b in env.receiver.received)


async def test_faults_on_contract_calls_only(env: Env) -> None:
    headers = {"X-Application": env.key}
    await env.control("PUT", "/faults", {"errors_next": 1, "rate_limits_next": 1, "retry_after": 9})
    assert (await env.http.get("/", headers=headers)).status_code == 503
    limited = await env.http.get("/", headers=headers)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "9"
    assert (await env.http.get("/", headers=headers)).status_code == 200
    await env.control("PUT", "/faults", {"error_rate": 1.0, "error_status": 502})
    assert (await env.http.get("/", headers=headers)).status_code == 502
    assert (await env.control("GET", "/faults"))["error_rate"] == 1.0  # control API unaffected
    await env.control("DELETE", "/faults")
    assert (await env.http.get("/", headers=headers)).status_code == 200
    bad = await env.http.put("/_sandbox/faults", json={"no_such_fault": 1})
    assert bad.status_code == 400


async def test_applications_are_isolated(env: Env) -> None:
    other = await env.control("POST", "/applications", {"merchant_id": "m2"})
    parcel = (await env.create()).json()
    answer = await env.http.get(f"/parcels/{parcel['id']}", headers={"X-Application": other["key"]})
    assert answer.status_code == 404
    found = await env.http.get(
        "/parcels", params={"orderRef": "RAKUTEN-1"}, headers={"X-Application": other["key"]}
    )
    assert found.json() == []
    # The same orderRef is free for another application.
    created = await env.http.post(
        "/parcels", json=parcel_body("RAKUTEN-1"), headers={"X-Application": other["key"]}
    )
    assert created.status_code == 201


async def test_catalogue_pages(env: Env) -> None:
    products = [{"sku": f"P{i:03d}", "available": i} for i in range(150)]
    await env.control("PUT", "/merchants/m1/products", {"products": products})
    headers = {"X-Application": env.key}
    page = await env.http.get("/product-catalog/products", params={"offset": 100, "limit": 100}, headers=headers)
    assert page.headers["x-total-count"] == "151"
    assert [p["sku"] for p in page.json()][:2] == ["P100", "P101"]
    assert len(page.json()) == 51
    too_big = await env.http.get("/product-catalog/products", params={"limit": 101}, headers=headers)
    assert too_big.status_code == 400


async def test_catalogue_pages_show_products_added_after_a_read_in_their_place(env: Env) -> None:
    headers = {"X-Application": env.key}
    await env.control("PUT", "/merchants/m1/products", {"products": [{"sku": "B", "available": 1}]})
    first = await env.http.get("/product-catalog/products", headers=headers)
    await env.control("POST", "/merchants/m1/stock-movements", {"sku": "A", "delta": 2, "movement": "INBOUND"})
    await env.control("PUT", "/merchants/m1/products", {"products": [{"sku": "C", "available": 3}]})
    again = await env.http.get("/product-catalog/products", headers=headers)
    assert [p["sku"] for p in first.json()] == ["B", "SKU-1"]
    assert [(p["sku"], p["stock"]["available"]) for p in again.json()] == [
        ("A", 2),
        ("B", 1),
        ("C", 3),
        ("SKU-1", 5),
    ]
    assert again.headers["x-total-count"] == "4"


async def test_control_api_validates_input(env: Env) -> None:
    for method, path, body in [
        ("POST", "/applications", {}),
        ("PUT", f"/applications/{env.key}/webhook", {"url": "http://x", "secret": "not-base64!"}),
        ("PUT", "/applications/unknown/webhook", {"url": "http://x", "secret": SECRET}),
        ("PUT", "/lifecycle", {"teleport": 1}),
        ("PUT", "/lifecycle", {"pick": -1}),
        ("POST", "/merchants/m1/stock-movements", {"sku": "SKU-1", "delta": 1, "movement": "MAGIC"}),
        ("POST", "/parcels/42/advance", None),
        ("POST", "/webhooks/release", {"order": "sideways"}),
    ]:
        answer = await env.http.request(method, f"/_sandbox{path}", json=body)
        assert answer.status_code in (400, 404), (path, answer.text)
    await env.control("POST", "/reset")
    assert (await env.control("GET", "/applications"))["applications"] == []
