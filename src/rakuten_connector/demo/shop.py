"""The demo shop: a fresh Rakuten sandbox seller with an inventory and a realistic mix of sales, a Cubyn
application with stock (one SKU out of stock), connected through the connector's real API."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

MERCHANT_ID = "demo-merchant"
SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 13))
OUT_OF_STOCK_SKU = "SKU-0013"
STOCK_PER_SKU = 500


class DemoError(Exception):
    """Something the person running the demo can fix; the message says what."""


@dataclass
class DemoShop:
    """What the demo set up: handy for the live view and for tests."""

    api_url: str
    token: str
    connection_id: str
    login: str
    rakuten_url: str
    cubyn_url: str
    sales_created: int = 0


def _ok(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.is_error:
        raise DemoError(f"{what} failed: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def generate_sales(rakuten: httpx.AsyncClient, login: str, count: int, rng: random.Random) -> int:
    """A realistic mix of sales on the sandbox: most import, some are skipped (unmapped shipping types,
    now and then an empty SKU or a negotiation) and a few ask for the SKU Cubyn has no stock of."""
    batches: list[dict[str, Any]] = [
        {"count": count, "skus": list(SKUS), "empty_sku_rate": 0.02, "nego_rate": 0.02}
    ]
    if rng.random() < 0.15:
        batches.append({"count": 1, "skus": [OUT_OF_STOCK_SKU], "shipping_types": ["Normal"], "multi_sku_rate": 0})
    created = 0
    for batch in batches:
        body = {"seed": rng.randrange(2**31), "max_age_hours": 0.5, **batch}
        answer = await rakuten.post(f"/_sandbox/sellers/{login}/sales/generate", json=body)
        created += len(_ok(answer, "generating sales")["sales"])
    return created


async def _first_sales(rakuten: httpx.AsyncClient, login: str, count: int, rng: random.Random) -> int:
    """The first batch always shows every case: skips of each kind and one order Cubyn cannot serve."""
    created = await generate_sales(rakuten, login, max(1, count - 4), rng)
    showcases: list[dict[str, Any]] = [
        {"shipping_types": ["So Colissimo"]},
        {"shipping_types": ["Suivi"], "empty_sku_rate": 1.0},
        {"shipping_types": ["Express"], "nego_rate": 1.0},
        {"shipping_types": ["Normal"], "skus": [OUT_OF_STOCK_SKU]},
    ]
    for showcase in showcases:
        body = {"count": 1, "seed": rng.randrange(2**31), "skus": list(SKUS), "multi_sku_rate": 0, **showcase}
        answer = await rakuten.post(f"/_sandbox/sellers/{login}/sales/generate", json=body)
        created += len(_ok(answer, "generating sales")["sales"])
    return created


async def set_up_shop(
    api: httpx.AsyncClient,
    rakuten: httpx.AsyncClient,
    cubyn: httpx.AsyncClient,
    token: str,
    *,
    sales: int,
    seed: int | None,
) -> DemoShop:
    """A fresh Rakuten login per run (`seed`: always the same one), so re-running on the same database works;
    earlier demo shops of the merchant are disconnected first (nothing would answer for them any more)."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    for connection in _ok(await api.get("/v1/connections", headers=headers), "listing connections")["items"]:
        if connection["status"] != "disconnected":
            _ok(await api.delete(f"/v1/connections/{connection['id']}", headers=headers), "disconnecting")
    suffix = uuid.UUID(int=rng.getrandbits(128)).hex[:6] if seed is not None else uuid.uuid4().hex[:6]
    login, rakuten_token, cubyn_key = f"boutique-demo-{suffix}", uuid.uuid4().hex, f"cub-demo-{uuid.uuid4().hex}"
    _ok(await rakuten.post("/_sandbox/sellers", json={"login": login, "token": rakuten_token}), "Rakuten seller")
    adverts = [{"sku": sku, "stock": 20} for sku in (*SKUS, OUT_OF_STOCK_SKU)]
    _ok(await rakuten.put(f"/_sandbox/sellers/{login}/inventory", json={"adverts": adverts}), "Rakuten inventory")
    _ok(
        await cubyn.post("/_sandbox/applications", json={"merchant_id": MERCHANT_ID, "key": cubyn_key}),
        "Cubyn app",
    )
    products = [{"sku": sku, "available": STOCK_PER_SKU} for sku in SKUS] + [
        {"sku": OUT_OF_STOCK_SKU, "available": 0}
    ]
    _ok(await cubyn.put(f"/_sandbox/merchants/{MERCHANT_ID}/products", json={"products": products}), "Cubyn stock")
    created = await _first_sales(rakuten, login, sales, rng)
    body = {"name": "Boutique démo", "seller_id": login, "token": rakuten_token, "cubyn_api_key": cubyn_key}
    connection = _ok(await api.post("/v1/connections", json=body, headers=headers), "connecting the shop")
    webhook = {"url": connection["webhook"]["url"], "secret": connection["webhook"]["secret"]}
    _ok(await cubyn.put(f"/_sandbox/applications/{cubyn_key}/webhook", json=webhook), "Cubyn webhook")
    _ok(await api.post(f"/v1/connections/{connection['id']}/imports", headers=headers), "first import")
    return DemoShop(
        api_url=str(api.base_url).rstrip("/"),
        token=token,
        connection_id=connection["id"],
        login=login,
        rakuten_url=str(rakuten.base_url).rstrip("/"),
        cubyn_url=str(cubyn.base_url).rstrip("/"),
        sales_created=created,
    )
