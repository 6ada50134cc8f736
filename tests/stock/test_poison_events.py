"""A stored stock event that cannot be applied fails on its own, with its reason: every other event of its
batch is applied, and the next tick finds nothing left to retry (the shop's quantities keep moving)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from rakuten_connector.stock import events as stock_events
from rakuten_connector.stock import ticks
from rakuten_connector.stock.events import apply_pending
from rakuten_connector.stock.models import StockItem
from rakuten_connector.webhooks.models import WebhookEvent
from rakuten_connector.webhooks.schemas import STOCK_UPDATED
from tests.factories import add_connection


@pytest.fixture
async def rt(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Runtime]:
    runtime = Runtime.start(settings)
    yield runtime
    await runtime.close()


def stock_payload(sku: str, available: Any, timestamp: str) -> str:
    return json.dumps(
        {"type": STOCK_UPDATED, "timestamp": timestamp, "data": {"sku": sku, "available": available}}
    )


async def store(sessions: async_sessionmaker[AsyncSession], connection_id: str, payloads: dict[str, str]) -> None:
    """As if the route had let them in: straight into the table, received a minute ago."""
    async with sessions() as session:
        received = utcnow() - timedelta(minutes=1)
        for webhook_id, payload in payloads.items():
            session.add(
                WebhookEvent(
                    connection_id=connection_id,
                    webhook_id=webhook_id,
                    event_type=STOCK_UPDATED,
                    payload=payload,
                    received_at=received,
                )
            )
        await session.commit()


async def events(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[str, str | None]]:
    async with sessions() as session:
        rows = (
            await session.execute(select(WebhookEvent.webhook_id, WebhookEvent.status, WebhookEvent.last_error))
        ).all()
    return {webhook_id: (status, error) for webhook_id, status, error in rows}


async def wanted(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        rows = (await session.execute(select(StockItem.sku, StockItem.wanted_quantity))).all()
    return dict(rows)


POISON = {
    "huge": stock_payload("P-1", 2**63, "2026-11-27T10:00:00Z"),
    "int32": stock_payload("P-2", 2**31, "2026-11-27T10:00:00Z"),
    "no-utc": stock_payload("P-3", 1, "9999-12-31T23:59:59-01:00"),
    "far-future": stock_payload("P-4", 1, "2099-01-01T00:00:00Z"),
    "not-json": "{",
}


async def test_poison_events_fail_alone_with_their_reason_and_the_rest_of_the_batch_applies(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_connection(sessions)
    good = {f"good-{n}": stock_payload(f"SKU-{n}", n, "2026-11-27T10:00:00Z") for n in range(5)}
    # The poison shares a SKU with good events: the good one still wins for that SKU.
    shared = {"shared-good": stock_payload("SKU-0", 40, "2026-11-27T10:05:00Z")}
    shared_poison = {"shared-poison": stock_payload("SKU-0", 2**63, "2026-11-27T10:06:00Z")}
    await store(sessions, cid, {**good, **POISON, **shared, **shared_poison})

    assert await apply_pending(rt, cid) == len(good) + len(POISON) + 2
    seen = await events(sessions)
    assert {w: seen[w][0] for w in [*good, *shared]} == dict.fromkeys([*good, *shared], "processed")
    for webhook_id in [*POISON, *shared_poison]:
        status, reason = seen[webhook_id]
        assert status == "failed", webhook_id
        assert reason, webhook_id
    assert "future" in (seen["far-future"][1] or "")
    assert await wanted(sessions) == {"SKU-0": 40, "SKU-1": 1, "SKU-2": 2, "SKU-3": 3, "SKU-4": 4}

    # Not stuck: nothing is left pending for the next tick to hand out again, and a new event applies at once.
    assert all(status != "pending" for status, _ in seen.values())
    await ticks.tick(rt)
    assert await apply_pending(rt, cid) == 0
    await store(sessions, cid, {"later": stock_payload("SKU-1", 9, "2026-11-27T11:00:00Z")})
    assert await apply_pending(rt, cid) == 1
    assert (await wanted(sessions))["SKU-1"] == 9


async def test_a_stored_sku_no_database_can_keep_fails_alone(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_connection(sessions)
    good = {f"good-{n}": stock_payload(f"SKU-{n}", n, "2026-11-27T10:00:00Z") for n in range(3)}
    await store(sessions, cid, {**good, "nul": stock_payload("BAD\x00SKU", 1, "2026-11-27T10:00:00Z")})
    assert await apply_pending(rt, cid) == 4
    seen = await events(sessions)
    assert seen["nul"][0] == "failed"
    assert "data.sku" in (seen["nul"][1] or "")
    assert all(seen[w][0] == "processed" for w in good)
    assert await wanted(sessions) == {"SKU-0": 0, "SKU-1": 1, "SKU-2": 2}


async def test_a_value_the_database_refuses_after_the_checks_fails_alone_on_either_database(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks are the first line; this is the second: the batch is applied one event at a time when the
    database refuses it (SQLite raises OverflowError itself, PostgreSQL a data error)."""
    cid = await add_connection(sessions)
    good = {f"good-{n}": stock_payload(f"SKU-{n}", n, "2026-11-27T10:00:00Z") for n in range(3)}
    await store(sessions, cid, {**good, "slips": stock_payload("BAD", 1, "2026-11-27T10:00:00Z")})
    checked = stock_events.read_event

    def slipping(payload: str) -> stock_events.Wanted | str:
        read = checked(payload)
        bad = isinstance(read, stock_events.Wanted) and read.sku == "BAD"
        return stock_events.Wanted("BAD", 2**63, read.at) if bad else read  # type: ignore[union-attr]

    monkeypatch.setattr(stock_events, "read_event", slipping)
    assert await apply_pending(rt, cid) == 4
    seen = await events(sessions)
    assert seen["slips"] == ("failed", "the database refused its values")
    assert all(seen[w][0] == "processed" for w in good)
    assert await wanted(sessions) == {"SKU-0": 0, "SKU-1": 1, "SKU-2": 2}
