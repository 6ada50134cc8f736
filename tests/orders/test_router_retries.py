"""Bulk retry (`POST /v1/connections/{id}/orders/retries`): every order of the connection in the state asked
is retried as the single retry route retries one, queued once, in chunks and a few statements per chunk;
bad bodies and other merchants change nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.auth import Role
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.main import create_app
from rakuten_connector.orders.models import OrderState
from rakuten_connector.orders.service import RETRY_CHUNK
from rakuten_connector.settings import Settings
from tests.conftest import auth_headers
from tests.orders.many_orders import add_many_orders, add_shop, orders_by_id, queued_retries, retry_events

A = auth_headers("merchant-a")
B = auth_headers("merchant-b")
OPERATOR = auth_headers("ops", Role.OPERATOR)
MISSING = "00000000-0000-4000-8000-000000000000"
FAILED = {"state": "failed"}


def retries(connection_id: str) -> str:
    return f"/v1/connections/{connection_id}/orders/retries"


@contextmanager
def counted_statements(app: FastAPI) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs meanwhile (an executemany counts once)."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_every_failed_order_of_the_connection_is_retried_and_queued_once(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop, other_shop = await add_shop(sessions, "merchant-a"), await add_shop(sessions, "merchant-a")
    failed = await add_many_orders(sessions, shop, 3, OrderState.FAILED)
    attention = await add_many_orders(sessions, shop, 1, OrderState.NEEDS_ATTENTION, first=10, parcel_id="9")
    imported = await add_many_orders(sessions, shop, 1, OrderState.IMPORTED, first=20, parcel_id="8")
    elsewhere = await add_many_orders(sessions, other_shop, 2, OrderState.FAILED)

    answer = await client.post(retries(shop), json=FAILED, headers=A)
    assert (answer.status_code, answer.json()) == (202, {"queued": 3})
    assert await queued_retries(settings.redis_url) == dict.fromkeys(failed, 1)
    rows = await orders_by_id(sessions, failed + attention + imported + elsewhere)
    for order_id in failed:
        order = rows[order_id]
        assert (order.state, order.attempts, order.last_error) == ("importing", 0, None)
        assert order.next_check_at is not None
        assert await retry_events(sessions, order_id) == 1
    for order_id in attention + imported + elsewhere:
        assert (rows[order_id].attempts, rows[order_id].next_check_at) == (3, None)
        assert await retry_events(sessions, order_id) == 0
    assert [rows[i].state for i in attention + imported + elsewhere] == [
        "needs_attention",
        "imported",
        "failed",
        "failed",
    ]

    again = await client.post(retries(shop), json=FAILED, headers=A)
    assert (again.status_code, again.json()) == (202, {"queued": 0})
    assert await queued_retries(settings.redis_url) == dict.fromkeys(failed, 1)
    assert [await retry_events(sessions, order_id) for order_id in failed] == [1, 1, 1]


async def test_orders_needing_attention_are_looked_at_again_and_never_queued_twice(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop = await add_shop(sessions, "merchant-a")
    with_parcel = await add_many_orders(sessions, shop, 2, OrderState.NEEDS_ATTENTION, parcel_id="7")
    without_parcel = await add_many_orders(sessions, shop, 1, OrderState.NEEDS_ATTENTION, first=10)
    # One of them had its retry asked already, by the route of one order.
    purchase_id = (await orders_by_id(sessions, with_parcel))[with_parcel[0]].purchase_id
    single = await client.post(f"/v1/connections/{shop}/orders/{purchase_id}/retry", headers=A)
    assert single.status_code == 202

    answer = await client.post(retries(shop), json={"state": "needs_attention"}, headers=A)
    assert (answer.status_code, answer.json()) == (202, {"queued": 2})
    again = await client.post(retries(shop), json={"state": "needs_attention"}, headers=A)
    assert (again.status_code, again.json()) == (202, {"queued": 0})

    assert await queued_retries(settings.redis_url) == dict.fromkeys(with_parcel + without_parcel, 1)
    rows = await orders_by_id(sessions, with_parcel + without_parcel)
    # With a parcel, the order stays as it is and is checked again; without, its parcel is created again.
    assert [rows[i].state for i in with_parcel + without_parcel] == ["needs_attention"] * 2 + ["importing"]
    assert all(rows[i].next_check_at is not None for i in with_parcel + without_parcel)
    assert [await retry_events(sessions, i) for i in with_parcel + without_parcel] == [1, 1, 1]


async def test_an_order_a_worker_holds_or_a_check_waits_for_is_left_out(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop, now = await add_shop(sessions, "merchant-a"), utcnow()
    held = await add_many_orders(
        sessions, shop, 1, OrderState.FAILED, lease_owner="worker-1", lease_until=now + timedelta(minutes=5)
    )
    lease_ran_out = await add_many_orders(
        sessions,
        shop,
        1,
        OrderState.FAILED,
        first=5,
        lease_owner="worker-1",
        lease_until=now - timedelta(minutes=1),
    )
    waiting = await add_many_orders(
        sessions,
        shop,
        1,
        OrderState.NEEDS_ATTENTION,
        first=9,
        parcel_id="7",
        next_check_at=now + timedelta(minutes=5),
    )
    answer = await client.post(retries(shop), json=FAILED, headers=A)
    assert answer.json() == {"queued": 1}
    assert (await client.post(retries(shop), json={"state": "needs_attention"}, headers=A)).json() == {"queued": 0}
    assert await queued_retries(settings.redis_url) == dict.fromkeys(lease_ran_out, 1)
    rows = await orders_by_id(sessions, held + waiting)
    assert (rows[held[0]].state, rows[held[0]].attempts) == ("failed", 3)
    assert rows[waiting[0]].next_check_at == now + timedelta(minutes=5)


async def test_thousands_of_orders_are_retried_a_chunk_at_a_time_in_a_few_statements(
    app: FastAPI, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop = await add_shop(sessions, "merchant-a")
    count = 2 * RETRY_CHUNK + 234
    failed = await add_many_orders(sessions, shop, count, OrderState.FAILED)
    with counted_statements(app) as statements:
        answer = await client.post(retries(shop), json=FAILED, headers=A)
    assert (answer.status_code, answer.json()) == (202, {"queued": count})
    # The connection, the candidates, then per chunk: the claim, the retries, their timeline events.
    assert len(statements) <= 2 + 3 * 4, statements
    assert await queued_retries(settings.redis_url) == dict.fromkeys(failed, 1)
    rows = await orders_by_id(sessions, failed)
    assert {order.state for order in rows.values()} == {"importing"}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({"state": "shipped"}, {}),
        ({"state": "FAILED"}, {}),
        ({"state": "teleported"}, {}),
        ({"state": 1}, {}),
        ({"state": ["failed"]}, {}),
        ({"state": None}, {}),
        ({"state": "failed", "all": True}, {}),
        ({}, {}),
        (["failed"], {}),
        ("failed", {}),
        (None, {}),
        (b"state=failed", {"content-type": "application/x-www-form-urlencoded"}),
        (b"failed", {"content-type": "text/plain"}),
    ],
    ids=[
        "not-retryable-state",
        "wrong-case",
        "unknown-state",
        "number",
        "list",
        "null",
        "extra-field",
        "empty-object",
        "array",
        "bare-string",
        "no-body",
        "form",
        "text",
    ],
)
async def test_a_bad_body_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    body: object,
    headers: dict[str, str],
) -> None:
    shop = await add_shop(sessions, "merchant-a")
    failed = await add_many_orders(sessions, shop, 2, OrderState.FAILED)
    if isinstance(body, bytes):
        answer = await client.post(retries(shop), content=body, headers={**A, **headers})
    else:
        answer = await client.post(retries(shop), json=body, headers=A)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (set(error), error["code"]) == ({"code", "message", "details"}, "validation_error")
    await _nothing_changed(sessions, settings, failed)


async def test_json_the_parser_cannot_read_is_the_usual_400_and_changes_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop = await add_shop(sessions, "merchant-a")
    failed = await add_many_orders(sessions, shop, 1, OrderState.FAILED)
    headers = {**A, "content-type": "application/json"}
    answer = await client.post(retries(shop), content=b'{"state": ', headers=headers)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_json")
    await _nothing_changed(sessions, settings, failed)


async def _nothing_changed(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, order_ids: list[str]
) -> None:
    rows = await orders_by_id(sessions, order_ids)
    assert {(order.state, order.attempts, order.next_check_at) for order in rows.values()} == {("failed", 3, None)}
    assert [await retry_events(sessions, order_id) for order_id in order_ids] == [0] * len(order_ids)
    assert await queued_retries(settings.redis_url) == {}


async def test_another_merchants_connection_answers_like_a_missing_one_and_an_operator_reaches_it(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop = await add_shop(sessions, "merchant-a")
    failed = await add_many_orders(sessions, shop, 2, OrderState.FAILED)
    foreign = await client.post(retries(shop), json=FAILED, headers=B)
    missing = await client.post(retries(MISSING), json=FAILED, headers=B)
    malformed = await client.post(retries("not-a-uuid"), json=FAILED, headers=B)
    assert foreign.status_code == missing.status_code == malformed.status_code == 404
    assert foreign.json() == missing.json() == malformed.json()
    await _nothing_changed(sessions, settings, failed)
    assert (await client.post(retries(shop), json=FAILED)).status_code == 401

    answer = await client.post(retries(shop), json=FAILED, headers=OPERATOR)
    assert (answer.status_code, answer.json()) == (202, {"queued": 2})


@pytest.mark.parametrize(
    "change", [{"paused": True}, {"state": "credentials_invalid"}], ids=["paused", "credentials-invalid"]
)
async def test_a_connection_that_cannot_take_work_answers_as_the_retry_of_one_order(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    change: dict[str, object],
) -> None:
    shop = await add_shop(sessions, "merchant-a")
    one, *rest = await add_many_orders(sessions, shop, 3, OrderState.FAILED)
    async with sessions() as session:
        await session.execute(update(Connection).where(Connection.id == shop).values(**change))
        await session.commit()
    purchase_id = (await orders_by_id(sessions, [one]))[one].purchase_id
    single = await client.post(f"/v1/connections/{shop}/orders/{purchase_id}/retry", headers=A)
    bulk = await client.post(retries(shop), json=FAILED, headers=A)
    assert bulk.status_code == single.status_code == 202
    assert bulk.json() == {"queued": 2}
    assert await queued_retries(settings.redis_url) == dict.fromkeys([one, *rest], 1)


async def test_no_retry_is_queued_for_a_disconnected_connection(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    shop = await add_shop(sessions, "merchant-a")
    failed = await add_many_orders(sessions, shop, 2, OrderState.FAILED)
    async with sessions() as session:
        await session.execute(update(Connection).where(Connection.id == shop).values(state="disconnected"))
        await session.commit()
    purchase_id = (await orders_by_id(sessions, [failed[0]]))[failed[0]].purchase_id
    single = await client.post(f"/v1/connections/{shop}/orders/{purchase_id}/retry", headers=A)
    bulk = await client.post(retries(shop), json=FAILED, headers=A)
    for answer in (single, bulk):  # queued, it would never run: the worker does nothing for such a shop
        assert (answer.status_code, answer.json()["error"]["code"]) == (409, "connection_disconnected")
    await _nothing_changed(sessions, settings, failed)


async def test_bulk_retries_count_against_the_retry_rate_limit(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    merchant = f"m-{uuid.uuid4().hex[:12]}"  # counts of its own
    shop = await add_shop(sessions, merchant)
    headers = auth_headers(merchant)
    app = create_app(settings.model_copy(update={"rate_limits_enabled": True, "rate_limit_retry": "2/minute"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            answers = [await http.post(retries(shop), json=FAILED, headers=headers) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    assert answers[2].json()["error"]["code"] == "rate_limited"
