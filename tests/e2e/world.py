"""A whole system in one event loop: both sandboxes and the API on real sockets, an arq worker on the
test Redis db. Shared by the pipeline tests; the process-level end-to-end tests build on the same setup."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from rakuten_connector.main import create_app
from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
from rakuten_connector.sandbox.serve import free_port, serve
from rakuten_connector.settings import Settings
from rakuten_connector.worker import running_in_background
from tests.conftest import auth_headers, use_secret
from tests.waiting import wait_until

FAST = LifecycleDelays(validate=0.05, pick=0.05, pack=0.05, ship=0.05)
MERCHANT = "merchant-e2e"

ADDRESS = {
    "civility": "M.",
    "firstname": "Jean",
    "lastname": "Dupont",
    "address1": "12 rue de la Paix",
    "address2": "",
    "zipcode": "75002",
    "city": "Paris",
    "country": "France métropolitaine",
    "countryalpha2": "FX",
    "phonenumber1": "06 12 34 56 78",
    "phonenumber2": "",
}
RELAY = {
    "id": "FR-084735",
    "name": "Tabac de la Gare",
    "address": "1 place de la Gare",
    "zipcode": "69002",
    "city": "Lyon",
    "country": "France",
}


def sale(shipping_type: str, skus: list[str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shipping_type": shipping_type,
        "buyer_email": "acheteur@example.fr",
        "items": [{"sku": sku} for sku in skus],
    }
    if shipping_type == "Point relais Mondial Relay":
        body["billing_address"] = ADDRESS
        body["relay_point"] = RELAY
    elif shipping_type in ("So Colissimo", "Chronopost"):
        body["billing_address"] = ADDRESS
    else:
        body["delivery_address"] = ADDRESS
    body.update(extra)
    return body


@dataclass
class World:
    settings: Settings
    api: httpx.AsyncClient
    rakuten: httpx.AsyncClient
    cubyn: httpx.AsyncClient
    login: str
    token: str
    cubyn_key: str
    connection_id: str = ""
    webhook_secret: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    async def connect(self, **overrides: Any) -> str:
        body = {"name": "Boutique", "seller_id": self.login, "token": self.token, "cubyn_api_key": self.cubyn_key}
        body.update(overrides)
        response = await self.api.post("/v1/connections", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        created = response.json()
        self.webhook_secret = use_secret(created["webhook"]["secret"])
        webhook = {"url": created["webhook"]["url"], "secret": created["webhook"]["secret"]}
        answer = await self.cubyn.put(f"/_sandbox/applications/{self.cubyn_key}/webhook", json=webhook)
        assert answer.status_code == 200, answer.text
        self.connection_id = created["id"]
        return self.connection_id

    async def add_sales(self, *sales: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.rakuten.post(f"/_sandbox/sellers/{self.login}/sales", json={"sales": list(sales)})
        assert response.status_code == 201, response.text
        created: list[dict[str, Any]] = response.json()["sales"]
        return created

    async def orders(self, **params: Any) -> list[dict[str, Any]]:
        url = f"/v1/connections/{self.connection_id}/orders"
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            query = {"limit": 200, **params, **({"cursor": cursor} if cursor else {})}
            page = (await self.api.get(url, params=query, headers=self.headers)).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    async def order(self, purchase_id: str) -> dict[str, Any]:
        url = f"/v1/connections/{self.connection_id}/orders/{purchase_id}"
        response = await self.api.get(url, headers=self.headers)
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    async def rakuten_sales(self) -> list[dict[str, Any]]:
        sales: list[dict[str, Any]] = (await self.rakuten.get(f"/_sandbox/sellers/{self.login}/sales")).json()[
            "sales"
        ]
        return sales

    async def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        params = {"login": self.login, **({"action": action} if action else {})}
        calls: list[dict[str, Any]] = (await self.rakuten.get("/_sandbox/calls", params=params)).json()["calls"]
        return calls

    async def parcels(self) -> list[dict[str, Any]]:
        parcels: list[dict[str, Any]] = (await self.cubyn.get("/_sandbox/parcels")).json()["parcels"]
        return parcels


wait_for = wait_until  # the e2e tests' name for it


running_worker = running_in_background


async def seed(rakuten: httpx.AsyncClient, cubyn: httpx.AsyncClient, stock: int) -> tuple[str, str, str]:
    """A Rakuten seller and a Cubyn application with stock for SKU-1..SKU-5; returns login, token, key."""
    login = f"boutique-{uuid.uuid4().hex[:6]}"
    token = use_secret(f"rk-e2e-CANARY-{uuid.uuid4().hex}")
    cubyn_key = use_secret(f"cub-e2e-CANARY-{uuid.uuid4().hex}")
    assert (await rakuten.post("/_sandbox/sellers", json={"login": login, "token": token})).status_code == 201
    answer = await cubyn.post("/_sandbox/applications", json={"merchant_id": MERCHANT, "key": cubyn_key})
    assert answer.status_code == 201, answer.text
    products = [{"sku": f"SKU-{n}", "available": stock} for n in range(1, 6)]
    answer = await cubyn.put(f"/_sandbox/merchants/{MERCHANT}/products", json={"products": products})
    assert answer.status_code == 200, answer.text
    return login, token, cubyn_key


@asynccontextmanager
async def sandboxes(delays: LifecycleDelays = FAST) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Both simulators on real sockets; yields clients whose base URLs are theirs."""
    async with AsyncExitStack() as stack:
        rakuten_url = await stack.enter_async_context(serve(create_rakuten_sandbox(seed=1)))
        cubyn_app = create_cubyn_sandbox(delays=delays, seed=1, webhook_retry_base=0.05)
        cubyn_url = await stack.enter_async_context(serve(cubyn_app))
        rakuten = await stack.enter_async_context(httpx.AsyncClient(base_url=rakuten_url, timeout=60))
        cubyn = await stack.enter_async_context(httpx.AsyncClient(base_url=cubyn_url, timeout=60))
        yield rakuten, cubyn


def world_settings(
    base: Settings, rakuten: httpx.AsyncClient, cubyn: httpx.AsyncClient, api_port: int
) -> Settings:
    return base.model_copy(
        update={
            "rakuten_base_url": str(rakuten.base_url).rstrip("/"),
            "cubyn_api_url": str(cubyn.base_url).rstrip("/"),
            "public_base_url": f"http://127.0.0.1:{api_port}",
            "import_interval_seconds": 30,
            "lease_seconds": 5,
            # The sandboxes answer from this process, busy with the API and a worker: on a loaded machine
            # an answer can take seconds, which the unit tests' short timeout would count as Rakuten down.
            "upstream_timeout_seconds": max(base.upstream_timeout_seconds, 10.0),
        }
    )


@asynccontextmanager
async def world(
    base: Settings, *, delays: LifecycleDelays = FAST, stock: int = 100, worker: bool = True
) -> AsyncIterator[World]:
    """Everything in this event loop: sandboxes, the API (uvicorn) and, unless told not to, a worker."""
    async with AsyncExitStack() as stack:
        rakuten, cubyn = await stack.enter_async_context(sandboxes(delays))
        port = free_port()
        settings = world_settings(base, rakuten, cubyn, port)
        await stack.enter_async_context(serve(create_app(settings), port=port))
        api = await stack.enter_async_context(httpx.AsyncClient(base_url=settings.public_base_url, timeout=60))
        login, token, cubyn_key = await seed(rakuten, cubyn, stock)
        the_world = World(settings, api, rakuten, cubyn, login, token, cubyn_key, headers=auth_headers(MERCHANT))
        if worker:
            await stack.enter_async_context(running_worker(settings))
        yield the_world
