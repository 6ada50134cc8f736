"""The Cubyn client against the Cubyn simulator over real HTTP (uvicorn)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from pydantic import SecretStr

from rakuten_connector.clients.cubyn import (
    CubynAuthError,
    CubynClient,
    CubynInvalidFields,
    CubynNotCancellable,
    CubynNotFound,
    CubynRateLimited,
    CubynTransientError,
)
from rakuten_connector.clients.cubyn_models import ParcelAddress, ParcelItem, ParcelRequest
from rakuten_connector.mapping.parcels import ParcelPlan, sale_to_parcel
from rakuten_connector.mapping.types import AddressRecord, ItemRecord, RelayPointRecord, SaleRecord
from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.serve import serve


@dataclass
class Sandbox:
    base_url: str
    control: httpx.AsyncClient
    http: httpx.AsyncClient
    key: str

    def client(self, key: str | None = None, timeout: float = 5.0) -> CubynClient:
        return CubynClient(self.base_url, SecretStr(key or self.key), http=self.http, timeout=timeout)


@pytest.fixture(scope="module")
async def running() -> AsyncIterator[tuple[str, httpx.AsyncClient, httpx.AsyncClient]]:
    manual = LifecycleDelays(validate=None, pick=None, pack=None, ship=None)
    async with (
        serve(create_cubyn_sandbox(delays=manual)) as base_url,
        httpx.AsyncClient(base_url=base_url) as control,
        httpx.AsyncClient() as http,
    ):
        yield base_url, control, http


@pytest.fixture
async def sandbox(running: tuple[str, httpx.AsyncClient, httpx.AsyncClient]) -> Sandbox:
    base_url, control, http = running
    await control.post("/_sandbox/reset")
    app = (await control.post("/_sandbox/applications", json={"merchant_id": "m1", "name": "Shop"})).json()
    return Sandbox(base_url, control, http, app["key"])


def request(ref: str = "RAKUTEN-1", sku: str = "SKU-1", quantity: int = 1) -> ParcelRequest:
    return ParcelRequest(
        order_ref=ref,
        last_name="Dupont",
        address=ParcelAddress(line1="1 rue de Rivoli", zip="75001", city="Paris", country="FR"),
        delivery_mode="STANDARD",
        items=(ParcelItem(sku=sku, quantity=quantity),),
    )


async def test_check_key(sandbox: Sandbox) -> None:
    answer = await sandbox.client().check_key()
    assert answer["auth"]["application"]["name"] == "Shop"
    with pytest.raises(CubynAuthError):
        await sandbox.client("wrong-key").check_key()


async def test_check_key_with_a_client_of_its_own(sandbox: Sandbox) -> None:
    assert (await CubynClient(sandbox.base_url, SecretStr(sandbox.key)).check_key())["name"] == "cubyn.api"


async def test_create_read_find_and_adopt(sandbox: Sandbox) -> None:
    client = sandbox.client()
    created = await client.create_parcel(request())
    assert created.created
    assert created.parcel is not None
    again = await client.create_parcel(request())
    assert (again.created, again.parcel_id) == (False, created.parcel_id)
    parcel = await client.get_parcel(created.parcel_id)
    assert (parcel.order_ref, parcel.status, parcel.tracking_id) == ("RAKUTEN-1", "CREATED", f"CUB{parcel.id}")
    found = await client.find_parcel("RAKUTEN-1")
    assert found is not None
    assert found.id == parcel.id
    assert await client.find_parcel("RAKUTEN-404") is None
    with pytest.raises(CubynNotFound):
        await client.get_parcel("1")
    received = (await sandbox.control.get("/_sandbox/received")).json()["received"]
    assert [r["idempotency_key"] for r in received] == ["RAKUTEN-1", "RAKUTEN-1"]


async def test_invalid_fields(sandbox: Sandbox) -> None:
    body = request().to_json()
    body["address"]["line1"] = "x" * 36
    with pytest.raises(CubynInvalidFields) as raised:
        await sandbox.client().create_parcel(body)
    assert [e.field for e in raised.value.errors] == ["address.line1"]


async def test_cancel(sandbox: Sandbox) -> None:
    client = sandbox.client()
    first = await client.create_parcel(request("RAKUTEN-A"))
    second = await client.create_parcel(request("RAKUTEN-B"))
    assert (await client.cancel_parcel(first.parcel_id)).status == "CANCELLED"
    await sandbox.control.post(f"/_sandbox/parcels/{second.parcel_id}/status", json={"status": "PACKED"})
    with pytest.raises(CubynNotCancellable):
        await client.cancel_parcel(second.parcel_id)


async def test_lifecycle_seen_by_the_client(sandbox: Sandbox) -> None:
    await sandbox.control.put(
        "/_sandbox/merchants/m1/products", json={"products": [{"sku": "SKU-1", "available": 1}]}
    )
    client = sandbox.client()
    created = await client.create_parcel(request(quantity=2))
    await sandbox.control.post(f"/_sandbox/parcels/{created.parcel_id}/advance")
    failed = await client.get_parcel(created.parcel_id)
    assert not failed.is_validated
    assert failed.failed_checks()["stock"].error == "STOCK_CHECK_FAILED"
    await sandbox.control.post(
        "/_sandbox/merchants/m1/stock-movements", json={"sku": "SKU-1", "delta": 1, "movement": "INBOUND"}
    )
    assert (await client.get_parcel(created.parcel_id)).is_validated
    for _ in range(3):
        await sandbox.control.post(f"/_sandbox/parcels/{created.parcel_id}/advance")
    shipped = await client.get_parcel(created.parcel_id)
    assert shipped.status == "SHIPPED"
    assert shipped.carrier == "COLISSIMO"
    assert shipped.shipped_at is not None
    stock = [p async for p in client.iter_catalog()]
    assert [(p.sku, p.stock.available) for p in stock] == [("SKU-1", 0)]


async def test_iter_catalog_over_several_pages(sandbox: Sandbox) -> None:
    products = [{"sku": f"SKU-{i:03d}", "available": i} for i in range(230)]
    await sandbox.control.put("/_sandbox/merchants/m1/products", json={"products": products})
    read = [p async for p in sandbox.client().iter_catalog()]
    assert [(p.sku, p.stock.available) for p in read] == [(p["sku"], p["available"]) for p in products]


@pytest.mark.parametrize(
    ("faults", "error"),
    [
        ({"errors_next": 1}, CubynTransientError),
        ({"errors_next": 1, "error_status": 500}, CubynTransientError),
        ({"malformed_next": 1}, CubynTransientError),
        ({"latency_seconds": 0.4}, CubynTransientError),
    ],
)
async def test_faults_become_typed_errors(
    sandbox: Sandbox, faults: dict[str, float], error: type[Exception]
) -> None:
    await sandbox.control.put("/_sandbox/faults", json=faults)
    with pytest.raises(error):
        await sandbox.client(timeout=0.1).get_parcel("1")
    await sandbox.control.delete("/_sandbox/faults")


async def test_rate_limit_carries_retry_after(sandbox: Sandbox) -> None:
    await sandbox.control.put("/_sandbox/faults", json={"rate_limits_next": 1, "retry_after": 3})
    with pytest.raises(CubynRateLimited) as raised:
        await sandbox.client().check_key()
    assert raised.value.retry_after == 3.0
    assert (await sandbox.client().check_key())["name"] == "cubyn.api"


HOME = AddressRecord(
    first_name="Jean",
    last_name="Dupont",
    address1="12 rue de la Paix",
    zipcode="75002",
    city="Paris",
    country="France",
    country_alpha2="FX",
    phone1="06 12 34 56 78",
)
SALES = [
    SaleRecord("1001", "Suivi", delivery_address=HOME, items=(ItemRecord("1", "SKU-1"), ItemRecord("2", "SKU-1"))),
    SaleRecord(
        "1002", "Recommandé", delivery_address=HOME, buyer_email="a@b.fr", items=(ItemRecord("3", "SKU-1"),)
    ),
    SaleRecord("1003", "Express", billing_address=HOME, items=(ItemRecord("4", "SKU-1"),)),
    SaleRecord(
        "1004",
        "Point relais Mondial Relay",
        billing_address=HOME,
        relay_point=RelayPointRecord(id="FR-084735", name="Tabac"),
        items=(ItemRecord("5", "SKU-1"),),
    ),
]


@pytest.mark.parametrize("sale", SALES, ids=lambda s: s.shipping_type)
async def test_mapped_sales_are_accepted_by_the_sandbox(sandbox: Sandbox, sale: SaleRecord) -> None:
    plan = sale_to_parcel(sale)
    assert isinstance(plan, ParcelPlan)
    created = await sandbox.client().create_parcel(plan.request)
    assert created.created
    assert created.parcel is not None
    assert created.parcel.delivery_mode == plan.request.delivery_mode
