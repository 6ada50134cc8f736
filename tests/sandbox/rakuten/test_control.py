"""The Rakuten sandbox's control bodies: the fields callers send are accepted, unknown fields and bodies that
do not fit answer 422 with the details, bodies that are not JSON 400, never 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rakuten_connector.sandbox.rakuten.simulator import RakutenSandbox

LOGIN = "boutique"
FAULTS = {
    "latency_seconds": 0.5,
    "error_rate": 0.1,
    "timeout_rate": 0.2,
    "timeout_seconds": 3,
    "garbled_rate": 0.3,
    "truncated_rate": 0.4,
    "quota_exhausted": True,
    "actions": ["getnewsales"],
    "logins": [LOGIN],
    "times": 2,
}


@pytest.fixture
async def seller(rakuten_http: httpx.AsyncClient) -> str:
    assert (await rakuten_http.post("/_sandbox/sellers", json={"login": LOGIN, "token": "t"})).status_code == 201
    sale = {"sales": [{"purchase_id": "P1", "items": [{"sku": "SKU-1", "item_id": "I1"}]}]}
    assert (await rakuten_http.post(f"/_sandbox/sellers/{LOGIN}/sales", json=sale)).status_code == 201
    return LOGIN


async def test_faults_take_every_field_and_put_replaces_them(
    rakuten_http: httpx.AsyncClient, rakuten_sandbox: RakutenSandbox
) -> None:
    answer = await rakuten_http.put("/_sandbox/faults", json=FAULTS)
    assert answer.status_code == 200, answer.text
    assert answer.json() == FAULTS
    assert rakuten_sandbox.faults.times == 2
    again = (await rakuten_http.put("/_sandbox/faults", json={"error_rate": 0.5})).json()
    assert (again["error_rate"], again["latency_seconds"], again["times"], again["actions"]) == (
        0.5,
        0,
        None,
        None,
    )
    cleared = (await rakuten_http.delete("/_sandbox/faults")).json()
    assert (cleared["error_rate"], cleared["timeout_seconds"]) == (0, 30)
    assert (await rakuten_http.get("/_sandbox/faults")).json() == cleared


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/sellers", {"login": "other", "token": "t"}),
        ("PATCH", "/sellers/{login}", {"token": "u"}),
        ("POST", "/sellers/{login}/sales/generate", {"count": 1}),
        ("POST", "/sellers/{login}/sales", {"sales": [{"items": [{"sku": "SKU-2"}]}]}),
        ("POST", "/sellers/{login}/items/I1/status", {"status": "CLOSED"}),
        ("POST", "/sellers/{login}/items/I1/messages", {"content": "Bonjour"}),
        ("PUT", "/sellers/{login}/inventory", {"adverts": []}),
        ("PUT", "/faults", {"error_rate": 0}),
        ("POST", "/clock", {"advance_seconds": 1}),
        ("PUT", "/settings", {"sales_page_size": 5}),
    ],
)
async def test_every_body_refuses_unknown_fields(
    rakuten_http: httpx.AsyncClient, seller: str, method: str, path: str, body: dict[str, Any]
) -> None:
    url = f"/_sandbox{path.replace('{login}', seller)}"
    refused = await rakuten_http.request(method, url, json={**body, "no_such_field": 1})
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert [d["loc"] for d in error["details"]] == [["no_such_field"]]
    assert (await rakuten_http.request(method, url, content=b"{nope")).json()["error"]["code"] == "malformed_json"
    assert (await rakuten_http.request(method, url, content=b"{nope")).status_code == 400
    assert (await rakuten_http.request(method, url, json=[body])).status_code == 422
    accepted = await rakuten_http.request(method, url, json=body)
    assert accepted.status_code in (200, 201), accepted.text


async def test_nested_bodies_refuse_unknown_fields_too(rakuten_http: httpx.AsyncClient, seller: str) -> None:
    for path, body in [
        ("sales", {"sales": [{"items": [{"sku": "A", "colour": "red"}]}]}),
        ("sales", {"sales": [{"items": [{"sku": "A"}], "delivery_address": {"street": "x"}}]}),
        ("inventory", {"adverts": [{"sku": "A", "stock": 1, "ean": "1"}]}),
        ("inventory", {"generate": {"count": 1, "suffix": "x"}}),
    ]:
        method = "PUT" if path == "inventory" else "POST"
        answer = await rakuten_http.request(method, f"/_sandbox/sellers/{seller}/{path}", json=body)
        assert answer.status_code == 422, (body, answer.text)
