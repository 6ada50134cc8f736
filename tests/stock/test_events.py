"""Which stock event wins: the newest timestamp per SKU; a tie keeps the lower quantity (never oversell)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.stock.events import UNREADABLE, Wanted, newest_per_sku, read_event, set_wanted
from rakuten_connector.stock.models import StockItem
from tests.factories import add_connection

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
    assert str(read_event("{")).startswith(UNREADABLE)
    no_data = read_event('{"type": "stock.updated", "timestamp": "2026-11-27T10:00:00Z", "data": {}}')
    assert str(no_data).startswith(UNREADABLE)
    assert "data.sku" in str(no_data)  # the reason names the field
    ok = '{"type": "stock.updated", "timestamp": "2026-11-27T10:00:00Z", "data": {"sku": "A", "available": 2}}'
    assert read_event(ok) == Wanted("A", 2, T0)


async def test_older_events_change_nothing_and_equal_quantities_do_not_need_a_push(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    cid = await add_connection(sessions)
    async with sessions() as session:

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
