"""Handling stored parcel events: one that cannot be applied fails on its own, with its reason, and the
events behind it are applied."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.orders.models import Order
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from rakuten_connector.webhooks import handling
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent


@pytest.fixture
async def rt(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Runtime]:
    runtime = Runtime.start(settings)
    yield runtime
    await runtime.close()


def _parcel_event(parcel_id: object, shipped_at: str | None = None) -> str:
    data: dict[str, Any] = {"id": parcel_id, "status": "SHIPPED", "updatedAt": "2026-11-27T10:05:00Z"}
    if shipped_at:
        data["shippedAt"] = shipped_at
    return json.dumps({"type": "parcel.updated", "timestamp": "2026-11-27T10:05:00Z", "data": data})


async def _events(sessions: async_sessionmaker[AsyncSession], payloads: list[str]) -> list[str]:
    async with sessions() as session:
        connection = Connection(merchant_id="m", name="n", seller_id="s", seller_key="s")
        session.add(connection)
        await session.flush()
        session.add(Order(connection_id=connection.id, purchase_id="P1", state="accepted", parcel_id="1"))
        events = [
            WebhookEvent(
                connection_id=connection.id,
                webhook_id=f"msg_{n}",
                event_type="parcel.updated",
                payload=payload,
                status=EventStatus.PENDING.value,
            )
            for n, payload in enumerate(payloads)
        ]
        session.add_all(events)
        await session.commit()
        return [e.id for e in events]


async def test_a_parcel_event_that_cannot_be_applied_fails_alone_with_its_reason(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    unreadable, refused, good = await _events(
        sessions,
        [
            _parcel_event(1, shipped_at="9999-12-31T23:59:59-01:00"),  # stored before the route refused it
            _parcel_event(1, shipped_at="2026-11-27T10:04:00Z"),
            _parcel_event(1),
        ],
    )
    applied: list[Any] = []

    async def apply_parcel(rt: Runtime, session: AsyncSession, connection: Any, order: Any, parcel: Any) -> None:
        if parcel.shipped_at is not None:
            raise OverflowError("date value out of range")  # what SQLite says of a value it cannot store
        applied.append(parcel.id)

    monkeypatch.setattr(handling, "apply_parcel", apply_parcel)
    assert await handling.handle_event(rt, unreadable) == "unreadable"
    assert await handling.handle_event(rt, refused) == "failed"
    assert await handling.handle_event(rt, good) == "applied"
    async with sessions() as session:
        rows = {e.id: (e.status, e.last_error) for e in await session.scalars(select(WebhookEvent))}
    assert rows[unreadable][0] == EventStatus.FAILED.value
    assert "UTC" in (rows[unreadable][1] or "")  # the reason, for operators
    assert rows[refused] == (EventStatus.FAILED.value, "could not be applied: OverflowError")
    assert rows[good] == (EventStatus.PROCESSED.value, None)
    assert applied == ["1"]


async def test_a_stored_parcel_event_whose_id_is_not_an_integer_is_unreadable(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Cubyn writes a parcel id as a JSON integer: the same id as a string is not taken for it."""
    [event] = await _events(sessions, [_parcel_event("1")])
    assert await handling.handle_event(rt, event) == "unreadable"
    async with sessions() as session:
        stored = await session.get_one(WebhookEvent, event)
        assert (stored.status, stored.last_error) == (
            EventStatus.FAILED.value,
            "unreadable parcel: Value error, a parcel id is an integer from 0 to 9223372036854775807",
        )


async def test_a_bug_while_applying_a_parcel_event_is_not_taken_for_a_bad_event(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the database refusing a value fails the event: anything else is a bug, which arq records and
    retries, and the event stays pending."""
    [event] = await _events(sessions, [_parcel_event(1)])

    async def apply_parcel(*_: Any) -> None:
        raise KeyError("a bug in the connector")

    monkeypatch.setattr(handling, "apply_parcel", apply_parcel)
    with pytest.raises(KeyError):
        await handling.handle_event(rt, event)
    async with sessions() as session:
        assert (await session.get_one(WebhookEvent, event)).status == EventStatus.PENDING.value
