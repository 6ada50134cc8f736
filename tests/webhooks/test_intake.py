"""The intake stores deliveries in batches, yet answers each one on its own (`webhooks/intake.py`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import ConnectionState
from rakuten_connector.kit.crypto import SecretBox, new_webhook_secret
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.kit.queue import Job, JobQueue
from rakuten_connector.settings import Settings
from rakuten_connector.webhooks import intake as intake_module
from rakuten_connector.webhooks.intake import Delivery, EventIntake
from rakuten_connector.webhooks.models import WebhookEvent
from tests.conftest import LOGS, use_secret
from tests.factories import add_connection
from tests.waiting import wait_until
from tests.webhooks.test_router import PARCEL_EVENT, STOCK_EVENT, signed_headers


class Shop:
    def __init__(self, connection_id: str, secret: str) -> None:
        self.connection_id, self.secret = connection_id, secret

    def delivery(self, event: object, webhook_id: str | None = None, secret: str | None = None) -> Delivery:
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        return Delivery(self.connection_id, body, signed_headers(secret or self.secret, body, webhook_id))


async def add_shop(sessions: async_sessionmaker[AsyncSession], box: SecretBox, key: str, **fields: Any) -> Shop:
    secret = new_webhook_secret()
    fields = {"seller_id": key, "seller_key": key, "webhook_secret_enc": box.encrypt(secret), **fields}
    return Shop(await add_connection(sessions, **fields), secret)


@pytest.fixture
async def intake(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[EventIntake]:
    queue = JobQueue(settings.redis_url)
    receiver = EventIntake(engine, SecretBox(settings.fernet_keys), queue)
    try:
        yield receiver
    finally:
        await receiver.close()
        await queue.close()


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.fernet_keys)


async def answers(intake: EventIntake, deliveries: list[Delivery]) -> list[str]:
    """Each delivery's answer, all sent at once: "accepted", "duplicate" or the error code."""
    results = await asyncio.gather(*(intake.receive(d) for d in deliveries), return_exceptions=True)
    out = []
    for result in results:
        if isinstance(result, ApiError):
            out.append(result.code)
        elif isinstance(result, BaseException):
            raise result
        else:
            out.append("duplicate" if result.duplicate else "accepted")
    return out


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(select(WebhookEvent.connection_id, WebhookEvent.webhook_id))
        return sorted((c, w) for c, w in rows)


async def test_one_batch_of_mixed_deliveries_answers_each_on_its_own(
    intake: EventIntake,
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = await add_shop(sessions, box, "a"), await add_shop(sessions, box, "b")
    gone = await add_shop(sessions, box, "gone", state=ConnectionState.DISCONNECTED.value)
    batches: list[int] = []
    store = EventIntake._store

    async def counted(self: EventIntake, batch: list[Any]) -> None:
        batches.append(len(batch))
        await store(self, batch)

    monkeypatch.setattr(EventIntake, "_store", counted)
    deliveries = [
        a.delivery(PARCEL_EVENT, "msg_1"),
        a.delivery(STOCK_EVENT, "msg_1"),  # the same webhook-id in the same batch: stored once
        b.delivery(STOCK_EVENT, "msg_1"),  # another connection: its own event
        a.delivery(PARCEL_EVENT, "msg_2", secret=b.secret),
        a.delivery(b'{"type": "stock.updated"}', "msg_3"),
        a.delivery(b"not json", "msg_4"),
        Delivery(str(uuid.uuid4()), b"{}", signed_headers(a.secret, b"{}")),
        gone.delivery(STOCK_EVENT, "msg_5"),
        b.delivery({"type": "carrier.news", "data": {}}, "msg_6"),
    ]
    assert await answers(intake, deliveries) == [
        "accepted",
        "duplicate",
        "accepted",
        "invalid_signature",
        "invalid_event",
        "malformed_json",
        "not_found",
        "connection_disconnected",
        "accepted",
    ]
    assert batches == [len(deliveries)]
    assert await stored(sessions) == sorted(
        [(a.connection_id, "msg_1"), (b.connection_id, "msg_1"), (b.connection_id, "msg_6")]
    )


async def test_a_bad_body_under_a_stored_webhook_id_is_a_duplicate(
    intake: EventIntake, sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    a = await add_shop(sessions, box, "a")
    assert await answers(intake, [a.delivery(STOCK_EVENT, "msg_1")]) == ["accepted"]
    again = [a.delivery(b"garbage", "msg_1"), a.delivery(b"garbage", "msg_2")]
    assert await answers(intake, again) == ["duplicate", "malformed_json"]


async def test_a_value_the_database_refuses_fails_only_its_own_event(
    intake: EventIntake,
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = await add_shop(sessions, box, "a")
    insert_rows = intake_module._insert_rows

    async def refusing(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
        if any(row["webhook_id"] == "msg_poison" for row in rows):
            raise DataError("INSERT", {}, Exception("value out of range"))
        return await insert_rows(conn, rows)

    monkeypatch.setattr(intake_module, "_insert_rows", refusing)
    deliveries = [
        a.delivery(STOCK_EVENT, "msg_1"),
        a.delivery(STOCK_EVENT, "msg_poison"),
        a.delivery(STOCK_EVENT, "msg_2"),
    ]
    assert await answers(intake, deliveries) == ["accepted", "invalid_event", "accepted"]
    assert await stored(sessions) == [(a.connection_id, "msg_1"), (a.connection_id, "msg_2")]


async def test_stock_events_queue_their_connections_batch_and_parcel_events_their_own_job(
    intake: EventIntake, sessions: async_sessionmaker[AsyncSession], box: SecretBox, settings: Settings
) -> None:
    a = await add_shop(sessions, box, "a")
    deliveries = [a.delivery(STOCK_EVENT, f"msg_s{n}") for n in range(20)] + [a.delivery(PARCEL_EVENT, "msg_p")]
    assert set(await answers(intake, deliveries)) == {"accepted"}
    redis = Redis.from_url(settings.redis_url)
    try:
        jobs = sorted(key.decode().split(":")[2] for key in await redis.keys("arq:job:*"))
    finally:
        await redis.aclose()
    assert jobs == ["stock-events", "webhook"]


async def test_an_event_whose_sender_went_away_is_stored_all_the_same(
    intake: EventIntake, sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    a = await add_shop(sessions, box, "a")
    request = asyncio.create_task(intake.receive(a.delivery(STOCK_EVENT, "msg_1")))
    await asyncio.sleep(0)  # handed over to the intake
    request.cancel()
    await wait_until(lambda: stored(sessions), what="the event stored")
    assert await stored(sessions) == [(a.connection_id, "msg_1")]


def test_a_job_queued_lately_is_not_sent_again_before_it_is_due() -> None:
    now = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    due = Job("stock_apply_events", ("c",), "stock-events:c:1", now + timedelta(seconds=0.25))
    at_once = Job("handle_webhook_event", ("e",), "webhook:e:1")
    recent = intake_module._RecentJobs()
    assert recent.new([due, at_once], now) == [due, at_once]
    assert recent.new([due, at_once], now + timedelta(seconds=0.1)) == [at_once]
    assert recent.new([due], now + timedelta(seconds=0.3)) == [due]


async def test_a_delivery_still_waiting_when_the_service_stops_is_refused_with_503(
    intake: EventIntake, sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    a = await add_shop(sessions, box, "a")
    request = asyncio.create_task(intake.receive(a.delivery(STOCK_EVENT, "msg_1")))
    await asyncio.sleep(0)  # handed over; the intake has not taken it yet
    await intake.close()
    with pytest.raises(ApiError) as refused:
        await request
    assert (refused.value.status_code, refused.value.code) == (503, "unavailable")
    assert await stored(sessions) == []


async def test_each_delivery_is_one_log_line_with_its_result_and_never_its_body_or_secret(
    intake: EventIntake, sessions: async_sessionmaker[AsyncSession], box: SecretBox
) -> None:
    a = await add_shop(sessions, box, "a")
    use_secret(a.secret)
    gone = await add_shop(sessions, box, "gone", state=ConnectionState.DISCONNECTED.value)
    before = len(LOGS.lines)
    deliveries = [
        a.delivery({**STOCK_EVENT, "data": {"sku": "SKU-SECRET-BODY", "available": 1}}, "msg_1"),
        a.delivery(STOCK_EVENT, "msg_1"),
        a.delivery(PARCEL_EVENT, "msg_2", secret=new_webhook_secret()),
        a.delivery(b'{"type": "stock.updated"}', "msg_3"),
        Delivery(str(uuid.uuid4()), b"{}", signed_headers(a.secret, b"{}", "msg_4")),
        Delivery("not-a-uuid", b"{}", signed_headers(a.secret, b"{}", "msg_5")),
        gone.delivery(STOCK_EVENT, "msg_6"),
    ]
    results = ["accepted", "duplicate", "invalid_signature", "invalid_event", "not_found", "not_found",
               "connection_disconnected"]  # fmt: skip
    assert await answers(intake, deliveries) == results

    def lines() -> list[dict[str, Any]]:
        written = "".join(LOGS.lines[before:])
        return [json.loads(line) for line in written.splitlines() if '"webhook_received"' in line]

    await wait_until(
        lambda: len(lines()) == len(deliveries), what="one log line per delivery", state=_async(lines)
    )
    outcomes = sorted((line["webhook_id"], line["result"]) for line in lines())
    assert outcomes == sorted(
        (f"msg_{n}", result) for n, result in zip([1, 1, 2, 3, 4, 5, 6], results, strict=True)
    )
    invalid = next(line for line in lines() if line["result"] == "invalid_event")
    assert (invalid.get("event_type"), invalid["connection_id"]) == (None, a.connection_id)
    accepted = next(line for line in lines() if line["result"] == "accepted")
    assert (accepted["event_type"], accepted["signed_with"]) == ("stock.updated", "current")
    written = "".join(LOGS.lines[before:])
    assert "SKU-SECRET-BODY" not in written
    assert a.secret not in written
    assert "webhook-signature" not in written
    assert "v1," not in written


def _async(read: Any) -> Any:
    async def state() -> object:
        return read()

    return state
