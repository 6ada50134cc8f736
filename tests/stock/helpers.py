"""Stock helpers over the in-process world (tests/e2e/world.py): signed stock events, both sandboxes'
stock, the connector's stock routes."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.settings import Settings
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import use_secret
from tests.e2e.world import World, wait_for


def stock_settings(base: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "stock_push_min_interval_seconds": 1,
        "stock_report_poll_seconds": 0.2,
        "stock_lost_upload_hold_seconds": 1,
        "stock_full_sync_enabled": False,
    }
    values.update(overrides)
    return base.model_copy(update=values)


async def connect(w: World, *, cubyn_products: dict[str, int] | None = None, **body: Any) -> tuple[str, str]:
    """Connect the shop (a fresh Cubyn application whose catalogue is exactly `cubyn_products`); returns
    (connection id, webhook secret). The Rakuten sandbox processes stock files 0.2 s after upload."""
    merchant, key = f"merchant-{uuid.uuid4().hex[:8]}", use_secret(f"cub-stock-{uuid.uuid4().hex}")
    answer = await w.cubyn.post("/_sandbox/applications", json={"merchant_id": merchant, "key": key})
    assert answer.status_code == 201, answer.text
    if cubyn_products:
        products = [{"sku": sku, "available": n} for sku, n in cubyn_products.items()]
        answer = await w.cubyn.put(f"/_sandbox/merchants/{merchant}/products", json={"products": products})
        assert answer.status_code == 200, answer.text
    assert (await w.rakuten.put("/_sandbox/settings", json={"upload_delay_seconds": 0.2})).status_code == 200
    request = {"name": "Boutique", "seller_id": w.login, "token": w.token, "cubyn_api_key": key, **body}
    response = await w.api.post("/v1/connections", json=request, headers=w.headers)
    assert response.status_code == 201, response.text
    created = response.json()
    w.connection_id = created["id"]
    return created["id"], use_secret(created["webhook"]["secret"])


async def send_event(w: World, secret: str, sku: str, available: int, at: datetime) -> None:
    body = json.dumps(
        {
            "type": "stock.updated",
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "data": {"sku": sku, "available": available, "movement": "ADJUSTMENT", "delta": 0},
        }
    )
    webhook_id, now = f"msg_{uuid.uuid4().hex}", utcnow()
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "content-type": "application/json",
    }
    response = await w.api.post(f"/v1/webhooks/cubyn/{w.connection_id}", content=body, headers=headers)
    assert response.status_code == 200, response.text


async def send_events(
    w: World, secret: str, events: list[tuple[str, int, datetime]], concurrency: int = 16
) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(event: tuple[str, int, datetime]) -> None:
        async with gate:
            await send_event(w, secret, *event)

    await asyncio.gather(*(one(e) for e in events))


async def set_rakuten_inventory(w: World, stock: dict[str, int]) -> None:
    adverts = [{"sku": sku, "stock": n} for sku, n in stock.items()]
    answer = await w.rakuten.put(f"/_sandbox/sellers/{w.login}/inventory", json={"adverts": adverts})
    assert answer.status_code == 200, answer.text


async def rakuten_stock(w: World) -> dict[str, int]:
    answer = (await w.rakuten.get(f"/_sandbox/sellers/{w.login}/inventory", params={"limit": 100000})).json()
    return {a["sku"]: a["stock"] for a in answer["adverts"]}


async def uploads(w: World) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await w.rakuten.get(f"/_sandbox/sellers/{w.login}/uploads")).json()["uploads"]
    return found


async def stock_items(w: World, **params: Any) -> dict[str, dict[str, Any]]:
    url = f"/v1/connections/{w.connection_id}/stock"
    items: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        query = {"limit": 500, **params, **({"cursor": cursor} if cursor else {})}
        response = await w.api.get(url, params=query, headers=w.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.update({i["sku"]: i for i in page["items"]})
        cursor = page["next_cursor"]
        if not cursor:
            return items


async def wait_pushed(w: World, expected: dict[str, int], seconds: float = 60) -> None:
    """Until Rakuten shows `expected` and the connector marks those SKUs pushed with those quantities."""

    async def done() -> bool:
        if {sku: n for sku, n in (await rakuten_stock(w)).items() if sku in expected} != expected:
            return False
        items = await stock_items(w)
        return all(
            sku in items and items[sku]["status"] == "pushed" and items[sku]["pushed_quantity"] == n
            for sku, n in expected.items()
        )

    await wait_for(done, seconds, "stock pushed", state=lambda: stock_items(w))


async def wait_events_handled(sessions: async_sessionmaker[AsyncSession], seconds: float = 60) -> None:
    async def handled() -> bool:
        async with sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(WebhookEvent).where(WebhookEvent.status == EventStatus.PENDING)
            )
        return pending == 0

    await wait_for(handled, seconds, "stock events handled")


async def wait_sync(w: World, sync_id: str, seconds: float = 60) -> dict[str, Any]:
    url = f"/v1/connections/{w.connection_id}/stock-syncs/{sync_id}"
    answer: dict[str, Any] = {}

    async def finished() -> bool:
        nonlocal answer
        response = await w.api.get(url, headers=w.headers)
        assert response.status_code == 200, response.text
        answer = response.json()
        return answer["status"] in ("succeeded", "failed")

    await wait_for(finished, seconds, "stock sync finished", state=lambda: asyncio.sleep(0, answer))
    return answer
