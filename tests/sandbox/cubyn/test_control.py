"""The Cubyn sandbox's control bodies, in process: each field is accepted under its one name, unknown fields
(another spelling of a field included) and bad bodies are refused with 400 in Cubyn's `{"message", "errors"}`
style, never 500."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.cubyn.simulator import CubynSandbox

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
MANUAL = LifecycleDelays(validate=None, pick=None, pack=None, ship=None)
PARCEL = {
    "orderRef": "RAKUTEN-1",
    "lastName": "Dupont",
    "address": {"line1": "12 rue de la Paix", "zip": "75002", "city": "Paris", "country": "FR"},
    "deliveryMode": "STANDARD",
    "items": [{"sku": "SKU-1", "quantity": 1}],
}


@pytest.fixture
async def cubyn() -> AsyncIterator[tuple[httpx.AsyncClient, CubynSandbox]]:
    app = create_cubyn_sandbox(delays=MANUAL, seed=1)
    sandbox = app.state.sandbox
    assert isinstance(sandbox, CubynSandbox)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cubyn.test") as http:
        yield http, sandbox


async def _parcel_id(http: httpx.AsyncClient) -> int:
    app = (await http.post("/_sandbox/applications", json={"merchant_id": "m1", "key": "k1"})).json()
    created = await http.post("/parcels", json=PARCEL, headers={"X-Application": app["key"]})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def test_webhook_targets_take_one_name_per_field(cubyn: tuple[httpx.AsyncClient, CubynSandbox]) -> None:
    http, sandbox = cubyn
    body = {"merchant_id": "m1", "webhook_url": "http://a/hook", "webhook_secret": SECRET}
    created = await http.post("/_sandbox/applications", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["webhook_url"] == "http://a/hook"
    assert "webhook_secret" not in created.json()
    key = created.json()["key"]
    answer = await http.put(
        f"/_sandbox/applications/{key}/webhook", json={"url": "http://b/hook", "secret": SECRET}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["webhook_url"] == "http://b/hook"
    assert sandbox.state.applications[key].webhook_secret == SECRET
    plain = (await http.post("/_sandbox/applications", json={"merchant_id": "m2"})).json()
    assert (plain["name"], plain["webhook_url"]) == ("Rakuten France", None)
    assert plain["key"].startswith("sandbox_")


@pytest.mark.parametrize(
    ("path", "body", "refused"),
    [
        ("/applications", {"merchant_id": "m3", "url": "http://a/hook", "secret": SECRET}, {"url", "secret"}),
        ("/applications", {"merchant_id": "m3", "webhook_url": "http://a/hook", "secret": SECRET}, {"secret"}),
        (
            "/applications/k1/webhook",
            {"webhook_url": "http://b/hook", "webhook_secret": SECRET},
            {"webhook_url", "webhook_secret"},
        ),
        ("/applications/k1/webhook", {"url": "http://b/hook", "webhook_secret": SECRET}, {"webhook_secret"}),
    ],
)
async def test_the_other_spelling_of_a_webhook_field_is_refused(
    cubyn: tuple[httpx.AsyncClient, CubynSandbox], path: str, body: dict[str, str], refused: set[str]
) -> None:
    http, sandbox = cubyn
    await _parcel_id(http)  # creates the application k1
    method = "POST" if path == "/applications" else "PUT"
    answer = await http.request(method, f"/_sandbox{path}", json=body)
    assert answer.status_code == 400, answer.text
    extra = {e["field"] for e in answer.json()["errors"] if e["message"] == "Extra inputs are not permitted"}
    assert extra == refused
    assert sandbox.state.applications["k1"].webhook_url is None
    assert [a.merchant_id for a in sandbox.state.applications.values()] == ["m1"]


async def test_faults_put_replaces_them_all_and_reaches_the_dispatcher(
    cubyn: tuple[httpx.AsyncClient, CubynSandbox],
) -> None:
    http, sandbox = cubyn
    assert (await http.put("/_sandbox/faults", json={"latency_seconds": 0.04})).json()["latency_seconds"] == 0.04
    both = {"duplicate_deliveries": True, "reorder_deliveries": True}
    faults = (await http.put("/_sandbox/faults", json=both)).json()
    assert (faults["latency_seconds"], faults["duplicate_deliveries"], faults["reorder_deliveries"]) == (
        0,
        True,
        True,
    )
    assert (sandbox.dispatcher.duplicate, sandbox.dispatcher.reorder) == (True, True)
    limited = (await http.put("/_sandbox/faults", json={"rate_limits_next": 1, "retry_after": 3})).json()
    assert (limited["rate_limits_next"], limited["retry_after"], limited["duplicate_deliveries"]) == (1, 3, False)
    assert (sandbox.dispatcher.duplicate, sandbox.dispatcher.reorder) == (False, False)
    assert set(limited) == {
        "latency_seconds",
        "error_rate",
        "error_status",
        "rate_limit_rate",
        "retry_after",
        "errors_next",
        "rate_limits_next",
        "malformed_next",
        "duplicate_deliveries",
        "reorder_deliveries",
    }
    refused = await http.put("/_sandbox/faults", json={"error_rate": 2})
    assert refused.status_code == 400
    assert (await http.get("/_sandbox/faults")).json() == limited  # a refused change changes nothing
    await http.put("/_sandbox/faults", json={**both, "latency_seconds": 0.04, "error_status": 502})
    cleared = (await http.delete("/_sandbox/faults")).json()
    assert (cleared["latency_seconds"], cleared["duplicate_deliveries"], cleared["error_status"]) == (
        0,
        False,
        503,
    )
    assert (sandbox.dispatcher.duplicate, sandbox.dispatcher.reorder) == (False, False)


async def test_lifecycle_takes_seconds_null_or_manual(cubyn: tuple[httpx.AsyncClient, CubynSandbox]) -> None:
    http, _ = cubyn
    delays = (await http.put("/_sandbox/lifecycle", json={"validate": 0.5, "pick": "manual", "deliver": 3})).json()
    assert delays == {"validate": 0.5, "pick": None, "pack": None, "ship": None, "in_transit": None, "deliver": 3}
    assert (await http.put("/_sandbox/lifecycle", json={"validate": None})).json()["validate"] is None
    for bad in ({"validate_": 1}, {"pick": -1}, {"pick": "soon"}, {"teleport": 1}):
        assert (await http.put("/_sandbox/lifecycle", json=bad)).status_code == 400, bad


async def test_unknown_fields_are_refused_everywhere(cubyn: tuple[httpx.AsyncClient, CubynSandbox]) -> None:
    http, _ = cubyn
    parcel_id = await _parcel_id(http)
    for method, path, body in [
        ("POST", "/applications", {"merchant_id": "m1"}),
        ("PUT", "/applications/k1/webhook", {"url": "http://x", "secret": SECRET}),
        ("PUT", "/merchants/m1/products", {"products": []}),
        ("POST", "/merchants/m1/stock-movements", {"sku": "SKU-1", "delta": 1}),
        ("PUT", "/lifecycle", {"pick": 1}),
        ("PUT", "/faults", {"latency_seconds": 1}),
        ("POST", f"/parcels/{parcel_id}/status", {"status": "PICKED"}),
        ("POST", f"/parcels/{parcel_id}/validation", {"check": "stock", "status": "PASSED"}),
        ("POST", "/webhooks/release", {"order": "fifo"}),
    ]:
        answer = await http.request(method, f"/_sandbox{path}", json={**body, "no_such_field": 1})
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["errors"] == [{"field": "no_such_field", "message": "Extra inputs are not permitted"}]
        assert "no_such_field" in answer.json()["message"]
    nested = {"products": [{"sku": "SKU-1", "available": 1, "colour": "red"}]}
    answer = await http.put("/_sandbox/merchants/m1/products", json=nested)
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["products[0].colour"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/applications", {}),
        ("POST", "/applications", {"merchant_id": ""}),
        ("POST", "/applications", {"merchant_id": "m1", "key": ""}),
        ("POST", "/applications", {"merchant_id": "m1", "key": "k1"}),  # taken
        ("POST", "/applications", {"merchant_id": "m1", "webhook_url": "http://x"}),  # no secret
        ("POST", "/applications", {"merchant_id": "m1", "url": "http://x", "secret": "not-base64!"}),
        ("POST", "/applications", [{"merchant_id": "m1"}]),
        ("PUT", "/applications/k1/webhook", {"url": "http://x"}),
        ("PUT", "/applications/k1/webhook", {"url": "http://x", "secret": "whsec_"}),
        ("PUT", "/applications/k1/webhook", {"url": 5, "secret": SECRET}),
        ("PUT", "/merchants/m1/products", {}),
        ("PUT", "/merchants/m1/products", {"products": "SKU-1"}),
        ("PUT", "/merchants/m1/products", {"products": [{"sku": "SKU-1", "available": "5"}]}),
        ("PUT", "/merchants/m1/products", {"products": [{"sku": "", "available": 5}]}),
        ("PUT", "/merchants/m1/products", {"products": [{"sku": "SKU-1", "available": 1.5}]}),
        ("POST", "/merchants/m1/stock-movements", {"sku": "SKU-1", "delta": "1"}),
        ("POST", "/merchants/m1/stock-movements", {"sku": "SKU-1", "delta": 1, "movement": "MAGIC"}),
        ("POST", "/merchants/m1/stock-movements", {"delta": 1}),
        ("PUT", "/faults", {"latency_seconds": -1}),
        ("PUT", "/faults", {"latency_seconds": 121}),
        ("PUT", "/faults", {"errors_next": -1}),
        ("PUT", "/faults", {"error_status": 200}),
        ("PUT", "/faults", {"duplicate_deliveries": [True]}),
        ("PUT", "/faults", {"latency_seconds": {"seconds": 1}}),
        ("POST", "/parcels/{id}/status", {}),
        ("POST", "/parcels/{id}/status", {"status": ""}),
        ("POST", "/parcels/{id}/validation", {"check": "weight", "status": "PASSED"}),
        ("POST", "/parcels/{id}/validation", {"check": "stock", "status": "MAYBE"}),
        ("POST", "/parcels/{id}/validation", {"check": "stock", "status": "FAILED", "error": 3}),
        ("POST", "/webhooks/release", {"order": "sideways"}),
    ],
)
async def test_bad_bodies_answer_400(
    cubyn: tuple[httpx.AsyncClient, CubynSandbox], method: str, path: str, body: Any
) -> None:
    http, _ = cubyn
    parcel_id = await _parcel_id(http)
    answer = await http.request(method, f"/_sandbox{path.replace('{id}', str(parcel_id))}", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"]


async def test_bodies_that_are_not_json_answer_400(cubyn: tuple[httpx.AsyncClient, CubynSandbox]) -> None:
    http, _ = cubyn
    parcel_id = await _parcel_id(http)
    for method, path in [
        ("POST", "/applications"),
        ("PUT", "/applications/k1/webhook"),
        ("PUT", "/merchants/m1/products"),
        ("POST", "/merchants/m1/stock-movements"),
        ("PUT", "/lifecycle"),
        ("PUT", "/faults"),
        ("POST", f"/parcels/{parcel_id}/status"),
        ("POST", f"/parcels/{parcel_id}/validation"),
        ("POST", "/webhooks/release"),
    ]:
        for content in (b"{nope", b"\xff\xfe"):
            answer = await http.request(method, f"/_sandbox{path}", content=content)
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json() == {"message": "The body is not valid JSON."}
    broken = await http.post("/parcels", content=b"{nope", headers={"X-Application": "k1"})
    assert (broken.status_code, broken.json()) == (400, {"message": "The body is not valid JSON."})


async def test_empty_bodies_take_the_defaults(cubyn: tuple[httpx.AsyncClient, CubynSandbox]) -> None:
    http, sandbox = cubyn
    await http.post("/_sandbox/webhooks/hold")
    assert sandbox.dispatcher.held
    assert (await http.post("/_sandbox/webhooks/release")).json() == {"held": False}
    assert (await http.put("/_sandbox/faults")).json()["error_status"] == 503
    assert (await http.put("/_sandbox/lifecycle")).json()["validate"] is None
    moved = await http.post("/_sandbox/merchants/m1/stock-movements", json={"sku": "SKU-9", "delta": 4})
    assert moved.json()["stock"]["available"] == 4  # an ADJUSTMENT
