"""Cubyn webhooks: Standard Webhooks verification, deduplication, storage before 2xx, then a job."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Route

from rakuten_connector.kit.queue import job_id
from rakuten_connector.main import create_app
from rakuten_connector.orders import scheduler
from rakuten_connector.runtime import Runtime
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings
from rakuten_connector.webhooks.models import WebhookEvent
from rakuten_connector.webhooks.router import PATH
from tests.conftest import LOGS, auth_headers, use_secret
from tests.upstream_fakes import Upstreams, connection_body
from tests.waiting import wait_until

A = auth_headers("merchant-a")

PARCEL_EVENT: dict[str, Any] = {
    "type": "parcel.updated",
    "timestamp": "2026-11-27T10:05:00Z",
    "data": {
        "id": 123456,
        "orderRef": "RAKUTEN-31862101",
        "status": "CREATED",
        "validations": {"address": {"status": "PASSED"}, "stock": {"status": "PENDING"}},
        "validatedAt": None,
        "updatedAt": "2026-11-27T10:05:00Z",
        "somethingNew": {"ignored": True},
    },
}
STOCK_EVENT: dict[str, Any] = {
    "type": "stock.updated",
    "timestamp": "2026-11-27T10:06:00Z",
    "data": {"sku": "SKU-1", "available": 11, "movement": "FULFILMENT", "delta": -1},
}


def _ahead(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """An implementation of the scheme independent of the one the app uses."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secret: str, body: bytes, webhook_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
        "content-type": "application/json",
    }


class Hook:
    def __init__(self, client: httpx.AsyncClient, connection_id: str, secret: str) -> None:
        self.client, self.connection_id, self.secret = client, connection_id, secret
        self.url = f"/v1/webhooks/cubyn/{connection_id}"

    async def send(self, event: object, **kwargs: Any) -> httpx.Response:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = kwargs.pop("headers", None) or signed_headers(self.secret, body, **kwargs)
        return await self.client.post(self.url, content=body, headers=headers)


@pytest.fixture
async def hook(client: httpx.AsyncClient, upstreams: Upstreams) -> Hook:
    created = (await client.post("/v1/connections", json=connection_body(), headers=A)).json()
    return Hook(client, created["id"], use_secret(created["webhook"]["secret"]))


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[WebhookEvent]:
    async with sessions() as session:
        return list((await session.scalars(select(WebhookEvent).order_by(WebhookEvent.received_at))).all())


async def test_signed_event_is_stored_then_queued(
    hook: Hook, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    response = await hook.send(PARCEL_EVENT, webhook_id="msg_1")
    assert (response.status_code, response.json()) == (200, {"status": "accepted"})
    [event] = await stored(sessions)
    assert (event.webhook_id, event.event_type, event.status) == ("msg_1", "parcel.updated", "pending")
    assert json.loads(event.payload) == PARCEL_EVENT
    redis = Redis.from_url(settings.redis_url)
    try:
        assert await redis.exists(f"arq:job:{job_id('webhook', event.id, event.received_at)}") == 1
    finally:
        await redis.aclose()


async def test_the_sweep_queues_a_pending_event_under_the_id_the_route_gave_it(
    hook: Hook, sessions: async_sessionmaker[AsyncSession], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A busy queue: the event is still waiting for its job when the sweep finds it pending past its grace.
    # The sweep's job must collapse into the route's, or every slow event runs twice and the queue falls
    # further behind.
    redis = Redis.from_url(settings.redis_url)
    rt = Runtime.start(settings)
    try:
        assert (await hook.send(PARCEL_EVENT)).status_code == 200
        queued = await redis.zcard("arq:queue")
        monkeypatch.setattr(scheduler, "EVENT_GRACE", timedelta(0))
        assert await scheduler.sweep(rt) == 0
        assert await redis.zcard("arq:queue") == queued
    finally:
        await rt.close()
        await redis.aclose()


async def test_stock_event_is_stored(hook: Hook, sessions: async_sessionmaker[AsyncSession]) -> None:
    assert (await hook.send(STOCK_EVENT)).status_code == 200
    [event] = await stored(sessions)
    assert (event.event_type, event.status) == ("stock.updated", "pending")


async def test_same_webhook_id_is_a_no_op_whatever_its_body(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (await hook.send(PARCEL_EVENT, webhook_id="msg_dup")).json() == {"status": "accepted"}
    again = await hook.send(b"not even json", webhook_id="msg_dup")
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert len(await stored(sessions)) == 1


async def test_concurrent_deliveries_of_one_event_store_one_row(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answers = await asyncio.gather(*(hook.send(PARCEL_EVENT, webhook_id="msg_race") for _ in range(5)))
    assert all(a.status_code == 200 for a in answers)
    assert len(await stored(sessions)) == 1


async def test_one_valid_signature_among_several_is_enough(hook: Hook) -> None:
    body = json.dumps(PARCEL_EVENT).encode()
    headers = signed_headers(hook.secret, body)
    wrong = sign("whsec_" + base64.b64encode(b"k" * 32).decode(), headers["webhook-id"], 1, body)
    headers["webhook-signature"] = f"v2,abc {wrong} {headers['webhook-signature']}"
    assert (await hook.send(body, headers=headers)).status_code == 200


def _tampered(secret: str, body: bytes) -> dict[str, dict[str, str]]:
    good = signed_headers(secret, body, webhook_id="msg_x")
    other_secret = "whsec_" + base64.b64encode(b"o" * 32).decode()
    cases = {
        "missing-signature": {k: v for k, v in good.items() if k != "webhook-signature"},
        "missing-id": {k: v for k, v in good.items() if k != "webhook-id"},
        "missing-timestamp": {k: v for k, v in good.items() if k != "webhook-timestamp"},
        "other-secret": signed_headers(other_secret, body),
        "too-old": signed_headers(secret, body, timestamp=int(time.time()) - 301),
        # Well past the 5 minutes: built before the request, a bare 301 s ahead is back inside them under load.
        "too-new": signed_headers(secret, body, timestamp=int(time.time()) + 600),
        "not-a-number": {**good, "webhook-timestamp": "soon"},
        "no-comma": {**good, "webhook-signature": "garbage"},
        "bad-base64": {**good, "webhook-signature": "v1,%%%"},
        "other-id": {**good, "webhook-id": "msg_y"},
    }
    return cases


@pytest.mark.parametrize(
    "case",
    [
        "missing-signature",
        "missing-id",
        "missing-timestamp",
        "other-secret",
        "too-old",
        "too-new",
        "not-a-number",
        "no-comma",
        "bad-base64",
        "other-id",
    ],
)
async def test_bad_signatures_are_401_and_store_nothing(
    hook: Hook, sessions: async_sessionmaker[AsyncSession], case: str
) -> None:
    body = json.dumps(PARCEL_EVENT).encode()
    response = await hook.send(body, headers=_tampered(hook.secret, body)[case])
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await stored(sessions) == []


async def test_tampered_body_is_401(hook: Hook) -> None:
    body = json.dumps(PARCEL_EVENT).encode()
    headers = signed_headers(hook.secret, body)
    response = await hook.client.post(hook.url, content=body.replace(b"CREATED", b"SHIPPED"), headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "malformed_json"),
        (b"[]", "invalid_event"),
        (json.dumps({"data": {}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {"id": 1, "status": "SHIPPED"}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "updatedAt": "yesterday"}}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "data": {"sku": "", "available": 1}}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "data": {"sku": "A", "available": -3}}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "data": {"sku": "A", "available": "many"}}).encode(), "invalid_event"),
        (json.dumps({k: v for k, v in STOCK_EVENT.items() if k != "timestamp"}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "data": {"sku": "A", "available": 2**63}}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "data": {"sku": "A", "available": 2**31}}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "timestamp": "9999-12-31T23:59:59-01:00"}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "timestamp": "0001-01-01T00:00:00+05:00"}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "timestamp": "2099-01-01T00:00:00Z"}).encode(), "invalid_event"),
        (json.dumps({**STOCK_EVENT, "timestamp": _ahead(hours=6)}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "updatedAt": "9999-12-31T23:59:59-01:00"}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "updatedAt": "2099-01-01T00:00:00Z"}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "shippedAt": "9999-12-31T23:59:59-01:00"}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "id": 2**64}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "id": "123456"}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "id": True}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "id": -1}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "data": {**PARCEL_EVENT["data"], "id": 123456.0}}).encode(), "invalid_event"),
        (json.dumps({**PARCEL_EVENT, "timestamp": "2099-01-01T00:00:00Z"}).encode(), "invalid_event"),
        (b"[" * 50_000 + b"]" * 50_000, "malformed_json"),
        (b'{"type": "stock.updated", "data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "malformed_json"),
    ],
    ids=["not-json", "array", "no-type", "parcel-no-updatedAt", "parcel-bad-date", "stock-empty-sku",
         "stock-negative", "stock-not-int", "stock-no-timestamp", "stock-2**63", "stock-2**31",
         "stock-time-beyond-9999", "stock-time-before-1", "stock-2099", "stock-6-hours-ahead",
         "parcel-time-beyond-9999", "parcel-2099", "parcel-shipped-beyond-9999", "parcel-id-2**64",
         "parcel-id-string", "parcel-id-bool", "parcel-id-negative", "parcel-id-float",
         "parcel-envelope-2099", "nested-100kB", "nested-in-data"],
)  # fmt: skip
async def test_signed_but_invalid_bodies_are_400_and_store_nothing(
    hook: Hook, sessions: async_sessionmaker[AsyncSession], body: bytes, code: str
) -> None:
    response = await hook.send(body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert await stored(sessions) == []


async def test_an_event_a_little_ahead_is_taken_a_clock_may_be_off(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await hook.send({**STOCK_EVENT, "timestamp": _ahead(minutes=4)})
    assert response.status_code == 200, response.text
    assert len(await stored(sessions)) == 1


async def test_unknown_event_type_is_stored_and_ignored(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await hook.send({"type": "parcel.teleported", "data": {"anything": 1}})
    assert response.status_code == 200
    [event] = await stored(sessions)
    assert (event.event_type, event.status) == ("parcel.teleported", "ignored")


async def test_unknown_connection_is_404(client: httpx.AsyncClient) -> None:
    for cid in ("00000000-0000-4000-8000-000000000000", "nope"):
        body = json.dumps(PARCEL_EVENT).encode()
        secret = "whsec_" + base64.b64encode(b"s" * 32).decode()
        response = await client.post(
            f"/v1/webhooks/cubyn/{cid}", content=body, headers=signed_headers(secret, body)
        )
        assert response.status_code == 404


async def test_disconnected_connection_is_410(hook: Hook, sessions: async_sessionmaker[AsyncSession]) -> None:
    assert (await hook.client.delete(f"/v1/connections/{hook.connection_id}", headers=A)).status_code == 204
    response = await hook.send(PARCEL_EVENT)
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "connection_disconnected"
    assert await stored(sessions) == []


async def test_events_are_kept_for_a_paused_connection(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await hook.client.patch(f"/v1/connections/{hook.connection_id}", json={"paused": True}, headers=A)
    assert (await hook.send(STOCK_EVENT)).status_code == 200
    assert len(await stored(sessions)) == 1


async def test_event_is_acknowledged_when_redis_is_away(
    settings: Settings, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app: FastAPI = create_app(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            created = (await client.post("/v1/connections", json=connection_body(), headers=A)).json()
            hook = Hook(client, created["id"], use_secret(created["webhook"]["secret"]))
            response = await hook.send(PARCEL_EVENT)
    # Stored, so acknowledged; the sweep hands it to a worker once Redis is back.
    assert response.status_code == 200
    [event] = await stored(sessions)
    assert event.status == "pending"


async def test_the_route_is_served_ahead_of_the_others_and_still_documented(app: FastAPI, hook: Hook) -> None:
    first = app.router.routes[0]
    assert isinstance(first, Route)
    assert first.path == PATH
    documented = app.openapi()["paths"][PATH]["post"]
    assert {"200", "400", "401", "404", "410"} <= set(documented["responses"])
    answer = await hook.send(b"{not json")
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_json")


async def test_each_delivery_logs_the_request_id_of_its_own_answer(hook: Hook) -> None:
    # The intake writes from a task of its own, started by the first request: its lines must not carry
    # that first request's id.
    before = len(LOGS.lines)
    sent: dict[str, str] = {}
    for n in range(3):
        body = json.dumps(PARCEL_EVENT).encode()
        headers = {**signed_headers(hook.secret, body, webhook_id=f"msg_rid_{n}"), "X-Request-ID": f"rid-{n}"}
        answer = await hook.send(body, headers=headers)
        assert answer.status_code == 200
        sent[f"msg_rid_{n}"] = answer.headers["X-Request-ID"]

    def logged() -> dict[str, str]:
        lines = [
            json.loads(line) for line in "".join(LOGS.lines[before:]).splitlines() if "webhook_received" in line
        ]
        return {line["webhook_id"]: line.get("request_id", "") for line in lines}

    await wait_until(lambda: len(logged()) == 3, what="three webhook_received lines")
    assert logged() == sent == {f"msg_rid_{n}": f"rid-{n}" for n in range(3)}
