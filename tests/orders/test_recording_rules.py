"""Recording sales under the connection's rules (`orders/recording.py`): SKU mappings rename and sum the
parcel's lines, carrier choices decide the delivery mode, and a skipped sale whose mode gets chosen is
imported once, at the next poll, however many polls race for it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rakuten_connector.carriers import service as carriers
from rakuten_connector.clients.rakuten_models import Address, Item, RelayPoint, Sale
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.mapping.carriers import CarrierChoiceValue
from rakuten_connector.orders.models import Order, OrderEvent
from rakuten_connector.orders.recording import Recorded, record_sales
from rakuten_connector.skus.models import SkuMapping
from tests.factories import add_connection

HOME = Address("M.", "Jean", "Dupont", "12 rue de la Paix", "", "75002", "Paris", "France", "FR", "0612345678", "")
BILLING = replace(HOME, address1="8 rue Victor Hugo", zipcode="13001", city="Marseille")
RELAY = RelayPoint("FR-084735", "Tabac de la Gare", "1 place de la Gare", "69002", "Lyon", "France")


def _item(item_id: str, sku: str, status: str = "TO_CONFIRM") -> Item:
    return Item(item_id, sku, "9", "Produit", status, False, Decimal("10"))


def _sale(purchase_id: str, *items: Item, shipping_type: str = "Normal") -> Sale:
    return Sale(purchase_id, utcnow(), shipping_type, HOME, None, None, "a@example.fr", "buyer", items)


def _colissimo(purchase_id: str, *items: Item) -> Sale:
    """A So Colissimo sale: only the billing address, and here a collection point too."""
    return Sale(purchase_id, utcnow(), "So Colissimo", None, BILLING, RELAY, "a@example.fr", "buyer", items)


async def _poll(sessions: async_sessionmaker[AsyncSession], connection_id: str, *sales: Sale) -> Recorded:
    async with sessions() as session:
        recorded = await record_sales(session, connection_id, sales, utcnow())
        await session.commit()
        return recorded


async def _choose(sessions: async_sessionmaker[AsyncSession], connection_id: str, **choices: str | None) -> None:
    patch = {k.replace("_", " "): None if v is None else CarrierChoiceValue(v) for k, v in choices.items()}
    async with sessions() as session:
        await carriers.apply_patch(session, await session.get_one(Connection, connection_id), patch)
        await session.commit()


async def _map_skus(sessions: async_sessionmaker[AsyncSession], connection_id: str, **mappings: str) -> None:
    async with sessions() as session:
        session.add_all(
            SkuMapping(connection_id=connection_id, rakuten_sku=r, cubyn_sku=c) for r, c in mappings.items()
        )
        await session.commit()


async def _order(sessions: async_sessionmaker[AsyncSession], purchase_id: str) -> tuple[Order, list[OrderEvent]]:
    async with sessions() as session:
        order = await session.scalar(
            select(Order).where(Order.purchase_id == purchase_id).options(selectinload(Order.items))
        )
        assert order is not None
        events = await session.scalars(
            select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
        )
        return order, list(events)


def _parcel(order: Order) -> dict[str, Any]:
    assert order.parcel_request is not None
    body: dict[str, Any] = json.loads(order.parcel_request)
    return body


async def test_mapped_skus_go_to_cubyn_summed_under_their_cubyn_sku(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await add_connection(sessions)
    other = await add_connection(sessions, seller_id="o", seller_key="o")
    await _map_skus(sessions, connection_id, **{"R-1": "C-1", "R-2": "C-1"})
    await _map_skus(sessions, other, **{"SKU-9": "NOT-MINE"})  # another connection's mapping
    sale = _sale(
        "1", _item("11", "R-1"), _item("12", "R-2"), _item("13", "R-1"), _item("14", "SKU-9"), _item("15", "r-1")
    )
    recorded = await _poll(sessions, connection_id, sale)
    order, events = await _order(sessions, "1")
    assert recorded.to_import == [order.id]
    assert _parcel(order)["items"] == [
        {"sku": "C-1", "quantity": 3},
        {"sku": "SKU-9", "quantity": 1},
        {"sku": "r-1", "quantity": 1},  # SKUs compare exactly: R-1's mapping is not r-1's
    ]
    assert {item.item_id: (item.sku, item.cubyn_sku) for item in order.items} == {
        "11": ("R-1", "C-1"),
        "12": ("R-2", "C-1"),
        "13": ("R-1", "C-1"),
        "14": ("SKU-9", None),
        "15": ("r-1", None),
    }
    [received] = events
    assert received.kind == "received"
    assert 'SKU "R-1" is sent to Cubyn as "C-1" (SKU mapping).' in received.message
    assert 'SKU "R-2" is sent to Cubyn as "C-1" (SKU mapping).' in received.message


@contextmanager
def _statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_the_rules_are_read_once_per_poll_and_only_for_the_sales_in_hand(
    sessions: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    connection_id = await add_connection(sessions)
    await _map_skus(sessions, connection_id, **{f"R-{n}": f"C-{n}" for n in range(0, 1400, 7)})
    sales = [_sale(str(n), _item(f"{n}", f"R-{n}"), _item(f"{n}-b", f" R-{n} ")) for n in range(700)]
    with _statements(engine) as seen:
        recorded = await _poll(sessions, connection_id, *sales)
    assert len(recorded.to_import) == 700
    reads = [s for s in seen if "FROM sku_mappings" in s]
    assert len(reads) == 3  # 1400 SKUs to look up (700 as sent with spaces, 700 trimmed), 500 a query
    assert len([s for s in seen if "FROM carrier_choices" in s]) == 1
    order, _ = await _order(sessions, "7")
    assert _parcel(order)["items"] == [{"sku": "C-7", "quantity": 2}]
    with _statements(engine) as seen:
        again = await _poll(sessions, connection_id, *sales)  # nothing left to decide
    assert again.to_import == []
    assert not [s for s in seen if "sku_mappings" in s or "carrier_choices" in s]


async def test_a_skipped_sale_is_imported_once_its_delivery_mode_is_chosen(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await add_connection(sessions)
    await _map_skus(sessions, connection_id, **{"R-1": "C-1"})
    sale = _colissimo("2", _item("21", "R-1"), _item("22", "SKU-2"))
    # Recorded skipped once: the second poll finds it skipped already and counts no new skip.
    assert [(await _poll(sessions, connection_id, sale)).skipped for _ in range(2)] == [1, 0]
    order, events = await _order(sessions, "2")
    assert order.state == "skipped"
    assert order.reason is not None
    assert '"So Colissimo" is not available' in order.reason
    assert [e.kind for e in events] == ["skipped"]  # listed again: nothing new to say

    await _choose(sessions, connection_id, So_Colissimo="STANDARD")
    recorded = await _poll(sessions, connection_id, sale)
    order, events = await _order(sessions, "2")
    assert recorded.to_import == [order.id]
    assert (order.state, order.reason, order.delivery_mode) == ("importing", None, "STANDARD")
    assert [e.kind for e in events] == ["skipped", "received"]
    assert events[1].message.startswith('The delivery mode "So Colissimo" is now chosen: Cubyn STANDARD.')
    assert 'SKU "R-1" is sent to Cubyn as "C-1" (SKU mapping).' in events[1].message
    body = _parcel(order)
    assert (body["deliveryMode"], body["deliverySigned"], body["relayPoint"]) == ("STANDARD", False, None)
    assert (body["address"]["line1"], body["address"]["city"]) == ("8 rue Victor Hugo", "Marseille")
    assert body["items"] == [{"sku": "C-1", "quantity": 1}, {"sku": "SKU-2", "quantity": 1}]
    assert {item.item_id: item.cubyn_sku for item in order.items} == {"21": "C-1", "22": None}

    for _ in range(2):  # the next polls list it again: it is not imported a second time
        assert (await _poll(sessions, connection_id, sale)).to_import == []
    order, events = await _order(sessions, "2")
    assert order.state == "importing"
    assert [e.kind for e in events] == ["skipped", "received"]


async def test_racing_polls_import_a_skipped_sale_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Two polls that both read the order as skipped (a lease expired under a slow worker): the first to
    claim it sends it, the other leaves it."""
    connection_id = await add_connection(sessions)
    sale = _colissimo("3", _item("31", "SKU-1"))
    await _poll(sessions, connection_id, sale)
    await _choose(sessions, connection_id, so_colissimo="EXPRESS")
    async with sessions() as first, sessions() as second:
        won = await record_sales(first, connection_id, [sale], utcnow())  # claimed, not committed yet
        racing = asyncio.create_task(record_sales(second, connection_id, [sale], utcnow()))
        await asyncio.sleep(0.3)  # the second reads it skipped, then waits for the first's write
        assert not racing.done()
        await first.commit()
        lost = await racing
        await second.commit()
    order, events = await _order(sessions, "3")
    assert (won.to_import, lost.to_import) == ([order.id], [])
    assert (order.state, order.delivery_mode) == ("importing", "EXPRESS")
    assert [e.kind for e in events] == ["skipped", "received"]


async def test_a_choice_not_to_import_skips_the_sales_and_going_back_imports_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await add_connection(sessions)
    await _choose(sessions, connection_id, suivi="NOT_IMPORTED")
    sale = _sale("4", _item("41", "SKU-1"), shipping_type="SUIVI ")
    assert (await _poll(sessions, connection_id, sale)).skipped == 1
    order, _ = await _order(sessions, "4")
    assert order.state == "skipped"
    assert order.reason is not None
    assert "not imported" in order.reason
    await _choose(sessions, connection_id, suivi=None)
    assert len((await _poll(sessions, connection_id, sale)).to_import) == 1
    order, events = await _order(sessions, "4")
    assert (order.state, order.delivery_mode) == ("importing", "STANDARD")
    assert events[-1].message.startswith('The delivery mode "SUIVI" is now chosen: Cubyn STANDARD.')


async def test_a_skip_whose_reason_changes_says_so_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    connection_id = await add_connection(sessions)
    sale = _colissimo("5", _item("51", "SKU-1"))
    await _poll(sessions, connection_id, sale)
    await _choose(sessions, connection_id, so_colissimo="NOT_IMPORTED")  # explicit now
    for _ in range(2):
        await _poll(sessions, connection_id, sale)
    order, events = await _order(sessions, "5")
    assert order.state == "skipped"
    assert [e.kind for e in events] == ["skipped", "skipped"]
    assert order.reason == events[-1].message
    assert "not imported" in order.reason


async def test_a_sale_skipped_for_another_reason_says_why_it_is_imported_now(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await add_connection(sessions)
    nego = Item("61", "SKU-1", "9", "Produit", "TO_CONFIRM", True, Decimal("10"))
    await _poll(sessions, connection_id, _sale("6", nego))
    await _poll(sessions, connection_id, _sale("6", replace(nego, is_nego=False)))
    order, events = await _order(sessions, "6")
    assert order.state == "importing"
    assert events[-1].message.startswith("The sale can be imported now (it was skipped: A price negotiation")
