"""Stock publishing rules: the formula in Python and in SQL, and the buffer and cap end to end."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.settings import Settings
from rakuten_connector.stock.rules import PublishingRules
from tests.e2e.world import world
from tests.stock.helpers import (
    connect,
    send_events,
    set_rakuten_inventory,
    stock_items,
    stock_settings,
    uploads,
    wait_pushed,
    wait_sync,
)

quantities = st.integers(min_value=-5, max_value=10**6)
caps = st.one_of(st.none(), st.integers(min_value=1, max_value=10**6))


@given(available=quantities, buffer=st.integers(min_value=0, max_value=10**6), cap=caps)
def test_published_is_available_less_the_buffer_never_negative_never_above_the_cap(
    available: int, buffer: int, cap: int | None
) -> None:
    published = PublishingRules(buffer, cap).published(available)
    kept = max(available - buffer, 0)
    assert published == (kept if cap is None else min(kept, cap))
    assert 0 <= published <= max(available, 0)


async def test_the_sql_formula_agrees_with_the_python_one(engine: AsyncEngine) -> None:
    cases = [
        (available, buffer, cap)
        for available in (-3, 0, 1, 2, 5, 9, 10, 11, 1000)
        for buffer in (0, 1, 2, 10)
        for cap in (None, 1, 5, 10)
    ]
    async with engine.connect() as conn:
        for available, buffer, cap in cases:
            rules = PublishingRules(buffer, cap)
            assert await conn.scalar(select(rules.published_sql(literal(available)))) == rules.published(available)


@pytest.mark.usefixtures("sessions")
async def test_the_buffer_and_the_cap_shape_pushes_and_full_syncs_and_a_change_pushes_what_it_changes(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with world(stock_settings(settings)) as w:
        await set_rakuten_inventory(w, {"A": 0, "B": 0, "C": 0})
        connection_id, secret = await connect(
            w, cubyn_products={"A": 10, "B": 1, "C": 4}, stock_buffer=2, stock_max=5
        )
        now = utcnow()
        await send_events(w, secret, [("A", 10, now), ("B", 1, now), ("C", 4, now)])
        await wait_pushed(w, {"A": 5, "B": 0, "C": 2})
        items = await stock_items(w)
        assert {s: (i["wanted_quantity"], i["published_quantity"]) for s, i in items.items()} == {
            "A": (10, 5),
            "B": (1, 0),
            "C": (4, 2),
        }

        # Only the SKUs whose published quantity changes go out again: B stays at 0 with a buffer of 1.
        url = f"/v1/connections/{connection_id}"
        answer = await w.api.patch(url, json={"stock_buffer": 1, "stock_max": None}, headers=w.headers)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["stock_buffer"], answer.json()["stock_max"]) == (1, None)
        files = len(await uploads(w))
        await wait_pushed(w, {"A": 9, "B": 0, "C": 3})
        assert sorted(line["sku"] for line in (await uploads(w))[files]["lines"]) == ["A", "C"]

        # A full sync compares Rakuten with the published quantities, not Cubyn's.
        await set_rakuten_inventory(w, {"A": 9, "B": 0, "C": 7})
        answer = await w.api.post(f"{url}/stock-syncs", headers=w.headers)
        result = await wait_sync(w, answer.json()["id"])
        assert (result["status"], result["progress"]["to_update"]) == ("succeeded", 1)
        await wait_pushed(w, {"A": 9, "B": 0, "C": 3})
        assert [line["sku"] for line in (await uploads(w))[-1]["lines"]] == ["C"]
        assert (await stock_items(w))["C"]["wanted_at"] is not None
