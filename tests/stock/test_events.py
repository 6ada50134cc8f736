"""Which stock event wins: the newest timestamp per SKU; a tie keeps the lower quantity (never oversell)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.runtime import Runtime
from rakuten_connector.settings import Settings
from rakuten_connector.stock import events as events_module
from rakuten_connector.stock.events import Wanted, apply_pending, newest_per_sku, parse_event, set_wanted
from rakuten_connector.stock.models import StockItem
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_the_newest_event_wins_and_a_tie_keeps_the_lower_quantity() -> None:
    events = [
        Wanted("A", 5, T0 + timedelta(seconds=2)),
        Wanted("A", 9, T0 + timedelta(seconds=1)),
        Wanted("B", 4, T0),
        Wanted("B", 3, T0),
        Wanted("B", 8, T0),
    ]
    assert newest_per_sku(events) == {"A": events[0], "B": events[3]}


@given(st.lists(st.tuples(st.sampled_from("ABC"), st.integers(0, 9), st.integers(0, 5)), max_size=30))
def test_the_winner_does_not_depend_on_the_delivery_order(raw: list[tuple[str, int, int]]) -> None:
    events = [Wanted(sku, n, T0 + timedelta(seconds=s)) for sku, n, s in raw]
    assert newest_per_sku(events) == newest_per_sku(list(reversed(events)))


def test_unreadable_events_are_told_apart() -> None:
    assert parse_event("{") is None
    assert parse_event('{"type": "stock.updated", "timestamp": "2026-11-27T10:00:00Z", "data": {}}') is None
    ok = '{"type": "stock.updated", "timestamp": "2026-11-27T10:00:00Z", "data": {"sku": "A", "available": 2}}'
    assert parse_event(ok) == Wanted("A", 2, T0)


async def test_older_events_change_nothing_and_equal_quantities_do_not_need_a_push(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        connection = Connection(merchant_id="m", name="n", seller_id="s", seller_key="s")
        session.add(connection)
        await session.commit()
        cid = connection.id

        async def item() -> tuple[int, datetime | None, int, str]:
            session.expire_all()
            row = await session.scalar(select(StockItem).where(StockItem.sku == "A"))
            assert row is not None
            return row.wanted_quantity, row.wanted_at, row.version, row.status

        await set_wanted(session, cid, [Wanted("A", 5, T0)])
        assert await item() == (5, T0, 1, "pending")
        await set_wanted(session, cid, [Wanted("A", 9, T0 - timedelta(seconds=1))])
        assert await item() == (5, T0, 1, "pending")
        await set_wanted(session, cid, [Wanted("A", 7, T0)])
        assert await item() == (5, T0, 1, "pending")  # same time, higher: the lower stays
        await set_wanted(session, cid, [Wanted("A", 4, T0)])
        assert await item() == (4, T0, 2, "pending")  # same time, lower: taken
        later = T0 + timedelta(seconds=5)
        await set_wanted(session, cid, [Wanted("A", 4, later)])
        assert await item() == (4, later, 2, "pending")  # same quantity: a newer watermark, no new version


@pytest.fixture
async def rt(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Runtime]:
    runtime = Runtime.start(settings)
    yield runtime
    await runtime.close()


def _stock_payload(sku: str, available: int, timestamp: str = "2026-11-27T10:00:00Z") -> str:
    return json.dumps(
        {"type": "stock.updated", "timestamp": timestamp, "data": {"sku": sku, "available": available}}
    )


async def _batch_with_poison(sessions: async_sessionmaker[AsyncSession], poison: list[str]) -> str:
    """A connection with pending stock events: good ones for SKU-0..SKU-5 around the poison payloads."""
    async with sessions() as session:
        connection = Connection(merchant_id="m", name="n", seller_id="s", seller_key="s")
        session.add(connection)
        await session.flush()
        payloads = [_stock_payload(f"SKU-{n}", n) for n in range(3)]
        payloads += poison + [_stock_payload(f"SKU-{n}", n) for n in range(3, 6)]
        for n, payload in enumerate(payloads):
            session.add(
                WebhookEvent(
                    connection_id=connection.id,
                    webhook_id=f"msg_{n}",
                    event_type="stock.updated",
                    payload=payload,
                    status=EventStatus.PENDING.value,
                    received_at=T0 + timedelta(seconds=n),
                )
            )
        await session.commit()
        return connection.id


async def _outcome(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[dict[str, int], list[tuple[str, str | None]]]:
    async with sessions() as session:
        wanted = {row.sku: row.wanted_quantity for row in await session.scalars(select(StockItem))}
        events = await session.execute(
            select(WebhookEvent.status, WebhookEvent.last_error).order_by(WebhookEvent.webhook_id)
        )
        return wanted, [tuple(e) for e in events]  # type: ignore[misc]


@pytest.mark.parametrize(
    "poison",
    [
        _stock_payload("BAD", 2**63),
        _stock_payload("BAD", 1, "9999-12-31T23:59:59-01:00"),
        _stock_payload("BAD", 1, "2099-01-01T00:00:00Z"),
        "[" * 5000 + "]" * 5000,
    ],
    ids=["2**63", "beyond-9999", "2099", "nested"],
)
async def test_a_stored_poison_event_fails_alone_and_the_rest_of_its_batch_is_applied(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], poison: str
) -> None:
    cid = await _batch_with_poison(sessions, [poison])
    assert await apply_pending(rt, cid) == 7
    wanted, events = await _outcome(sessions)
    assert wanted == {f"SKU-{n}": n for n in range(6)}
    failed = [e for e in events if e[0] == EventStatus.FAILED.value]
    assert len(failed) == 1
    assert failed[0][1]  # with its reason, for operators
    assert sum(e[0] == EventStatus.PROCESSED.value for e in events) == 6
    assert await apply_pending(rt, cid) == 0  # nothing left to block the next tick


async def test_a_value_the_database_refuses_fails_alone_when_it_slips_past_the_checks(
    rt: Runtime, sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = await _batch_with_poison(sessions, [_stock_payload("BAD", 1)])
    checked = events_module.parse_event

    def slipping(payload: str) -> Wanted | None:
        wanted = checked(payload)
        return Wanted("BAD", 2**63, wanted.at) if wanted and wanted.sku == "BAD" else wanted

    monkeypatch.setattr(events_module, "parse_event", slipping)
    assert await apply_pending(rt, cid) == 7
    wanted, events = await _outcome(sessions)
    assert wanted == {f"SKU-{n}": n for n in range(6)}
    assert [e for e in events if e[0] == EventStatus.FAILED.value] == [
        (EventStatus.FAILED.value, "the database refused its values")
    ]
