"""`GET /v1/webhook-events` and `POST /v1/webhook-events/{id}/replay`: operators only, one status a page at a
time newest first without bodies, and a replay that puts the event back to pending with its job queued
after the commit (the same service as `webhooks list|replay`)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.auth import Role
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.cursors import encode_cursor
from rakuten_connector.settings import Settings
from rakuten_connector.stock.models import StockItem
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.worker import running_in_background
from tests.cli.conftest import queued_jobs
from tests.conftest import auth_headers
from tests.factories import add_connection
from tests.waiting import wait_until

OPERATOR = auth_headers("ops", Role.OPERATOR)
MERCHANT = auth_headers("m")
PARCEL = {"type": "parcel.updated", "data": {"id": 77, "orderRef": "RAKUTEN-1", "status": "SHIPPED"}}
EVENT_FIELDS = {
    "id",
    "connection_id",
    "webhook_id",
    "event_type",
    "status",
    "attempts",
    "last_error",
    "received_at",
    "processed_at",
}


async def add_event(
    sessions: async_sessionmaker[AsyncSession],
    connection_id: str,
    status: EventStatus,
    minutes_ago: float = 0,
    event_type: str = "parcel.updated",
    payload: object = PARCEL,
    last_error: str | None = None,
) -> str:
    async with sessions() as session:
        event = WebhookEvent(
            connection_id=connection_id,
            webhook_id=f"msg_{uuid.uuid4().hex}",
            event_type=event_type,
            payload=json.dumps(payload),
            status=status.value,
            attempts=1 if status is EventStatus.FAILED else 0,
            last_error=last_error,
            received_at=utcnow() - timedelta(minutes=minutes_ago),
        )
        session.add(event)
        await session.commit()
        return event.id


async def status_of(sessions: async_sessionmaker[AsyncSession], event_id: str) -> tuple[str, str | None]:
    async with sessions() as session:
        event = await session.get_one(WebhookEvent, event_id)
        return event.status, event.last_error


async def test_events_of_one_status_page_by_page_newest_first_without_bodies(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = await add_connection(sessions, seller_key="a"), await add_connection(sessions, seller_key="b")
    failed = [await add_event(sessions, a if n % 2 else b, EventStatus.FAILED, minutes_ago=n) for n in range(5)]
    await add_event(sessions, a, EventStatus.PROCESSED)
    await add_event(sessions, a, EventStatus.PENDING, last_error=None)

    seen, cursor, pages = [], None, 0
    while True:
        params = {"status": "failed", "limit": "2", **({"cursor": cursor} if cursor else {})}
        answer = await client.get("/v1/webhook-events", params=params, headers=OPERATOR)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages += 1
        assert all(set(item) == EVENT_FIELDS for item in page["items"])
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [item["id"] for item in seen] == failed  # newest first
    assert {item["status"] for item in seen} == {"failed"}
    assert "RAKUTEN-1" not in json.dumps(seen)  # no body

    only_a = await client.get(
        "/v1/webhook-events", params={"status": "failed", "connection_id": a}, headers=OPERATOR
    )
    assert [item["id"] for item in only_a.json()["items"]] == [failed[1], failed[3]]
    pending = await client.get("/v1/webhook-events", params={"status": "pending"}, headers=OPERATOR)
    assert [item["status"] for item in pending.json()["items"]] == ["pending"]


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/v1/webhook-events?status=failed"), ("post", f"/v1/webhook-events/{uuid.uuid4()}/replay")],
)
async def test_a_merchant_is_refused_like_on_every_operator_route(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    answer = await client.request(method, path, headers=MERCHANT)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "forbidden")
    orders = await client.get("/v1/orders", headers=MERCHANT)  # the operator orders route answers the same
    assert (orders.status_code, orders.json()["error"]["code"]) == (403, "forbidden")
    anonymous = await client.request(method, path)
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "unauthorized")


async def test_a_replayed_event_is_pending_again_and_its_job_queued(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop = await add_connection(sessions)
    event_id = await add_event(sessions, shop, EventStatus.FAILED, last_error="could not be applied")
    answer = await client.post(f"/v1/webhook-events/{event_id}/replay", headers=OPERATOR)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert set(body) == EVENT_FIELDS
    assert (body["id"], body["status"], body["last_error"], body["processed_at"]) == (
        event_id,
        "pending",
        None,
        None,
    )
    assert await status_of(sessions, event_id) == ("pending", None)
    assert await queued_jobs(settings.redis_url, f"webhook:{event_id}:") == [("handle_webhook_event", (event_id,))]
    # A pending one may be replayed again (its job lost with Redis): one more job, under another id.
    assert (await client.post(f"/v1/webhook-events/{event_id}/replay", headers=OPERATOR)).status_code == 202
    assert len(await queued_jobs(settings.redis_url, f"webhook:{event_id}:")) == 2


async def test_a_replayed_stock_event_is_applied_by_a_worker(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    # Stock update off: the quantity is recorded, nothing is pushed to Rakuten.
    shop = await add_connection(sessions, stock_sync_enabled=False)
    at = (utcnow() - timedelta(minutes=1)).isoformat()
    stock = {"type": "stock.updated", "timestamp": at, "data": {"sku": "SKU-7", "available": 12}}
    event_id = await add_event(
        sessions, shop, EventStatus.FAILED, event_type="stock.updated", payload=stock, last_error="refused"
    )
    async with running_in_background(settings):
        assert (await client.post(f"/v1/webhook-events/{event_id}/replay", headers=OPERATOR)).status_code == 202

        async def processed() -> bool:
            return (await status_of(sessions, event_id))[0] == EventStatus.PROCESSED

        await wait_until(processed, what="the replayed event to be applied")
    async with sessions() as session:
        items = [
            (i.sku, i.wanted_quantity)
            for i in await session.scalars(select(StockItem).where(StockItem.connection_id == shop))
        ]
    assert items == [("SKU-7", 12)]


@pytest.mark.parametrize("status", [EventStatus.PROCESSED, EventStatus.IGNORED])
async def test_an_event_already_handled_is_409_and_unchanged(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings, status: EventStatus
) -> None:
    event_id = await add_event(sessions, await add_connection(sessions), status)
    answer = await client.post(f"/v1/webhook-events/{event_id}/replay", headers=OPERATOR)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "event_not_replayable"
    assert error["message"] == f"Only failed or pending events can be replayed (this one is {status.value})."
    assert await status_of(sessions, event_id) == (status.value, None)
    assert await queued_jobs(settings.redis_url, "webhook:") == []


@pytest.mark.parametrize("event_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_replay_of_an_unknown_event_is_404(client: httpx.AsyncClient, event_id: str) -> None:
    answer = await client.post(f"/v1/webhook-events/{event_id}/replay", headers=OPERATOR)
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("event_id", ["%00", "e" * 65])
async def test_replay_of_an_id_no_event_can_have_is_422(client: httpx.AsyncClient, event_id: str) -> None:
    answer = await client.post(f"/v1/webhook-events/{event_id}/replay", headers=OPERATOR)
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "validation_error")


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"status": "lost"}, 422, "validation_error"),
        ({}, 422, "validation_error"),
        ({"status": "failed", "limit": "0"}, 422, "validation_error"),
        ({"status": "failed", "limit": "100000"}, 422, "validation_error"),
        ({"status": "failed", "limit": "many"}, 422, "validation_error"),
        ({"status": "failed", "cursor": "x" * 20_000}, 422, "validation_error"),
        ({"status": "failed", "cursor": "not a cursor"}, 400, "invalid_cursor"),
        ({"status": "failed", "cursor": encode_cursor(["yesterday", "x"])}, 400, "invalid_cursor"),
        ({"status": "failed", "cursor": encode_cursor(["2026-01-01T00:00:00", "x"])}, 400, "invalid_cursor"),
        ({"status": "failed", "connection_id": "c" * 37}, 422, "validation_error"),
    ],
    ids=["unknown-status", "no-status", "limit-0", "limit-huge", "limit-text", "huge-cursor", "garbage-cursor",
         "cursor-bad-time", "cursor-naive-time", "long-connection-id"],
)  # fmt: skip
async def test_hostile_query_values_get_a_4xx_in_the_error_shape(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    params: dict[str, str],
    status: int,
    code: str,
) -> None:
    await add_event(sessions, await add_connection(sessions), EventStatus.FAILED)
    answer = await client.get("/v1/webhook-events", params=params, headers=OPERATOR)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), answer.text
    assert set(answer.json()["error"]) >= {"code", "message"}


async def test_text_the_database_cannot_store_in_a_filter_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.get("/v1/webhook-events?status=failed&connection_id=%00", headers=OPERATOR)
    assert 400 <= answer.status_code < 500
    assert "code" in answer.json()["error"]
