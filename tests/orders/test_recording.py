"""Recording sales: a sale listed again changes nothing but when it was seen; Rakuten's values too long
for their columns never make a shop's import fail; a purchase an earlier connection of the seller sent
to Cubyn is not imported again."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rakuten_connector.clients.rakuten_models import Address, Item, Sale
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderEvent, OrderState
from rakuten_connector.orders.recording import ALREADY_IMPORTED, TOO_LONG, Recorded, purchase_chunks, record_sales
from tests.factories import add_connection

HOME = Address("M.", "Jean", "Dupont", "12 rue de la Paix", "", "75002", "Paris", "France", "FR", "0612345678", "")


def _sale(purchase_id: str, item_id: str = "1", sku: str = "SKU-1", status: str = "TO_CONFIRM", **kw: str) -> Sale:
    item = Item(item_id, sku, "9", "Produit", status, False, Decimal("10"))
    shipping = kw.get("shipping_type", "Normal")
    return Sale(purchase_id, utcnow(), shipping, HOME, None, None, "a@example.fr", "buyer", (item,))


async def test_sales_listed_again_are_recorded_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    connection_id = await add_connection(sessions)
    sales = [_sale("500", item_id="51"), _sale("501", item_id="52", sku="")]  # to import, and skipped
    first_seen = utcnow()
    async with sessions() as session:
        first = await record_sales(session, connection_id, sales, first_seen)
        await session.commit()
        events = len((await session.scalars(select(OrderEvent))).all())
    async with sessions() as session:
        again = await record_sales(session, connection_id, sales, utcnow())
        await session.commit()
    async with sessions() as session:
        orders = (await session.scalars(select(Order).options(selectinload(Order.items)))).all()
        assert len((await session.scalars(select(OrderEvent))).all()) == events  # nothing new to say
    assert (len(first.to_import), first.skipped) == (1, 1)
    assert (again.to_import, again.skipped, again.already_imported) == ([], 0, 0)
    assert sorted((o.purchase_id, o.state, len(o.items)) for o in orders) == [
        ("500", "importing", 1),
        ("501", "skipped", 1),
    ]
    assert all(o.rakuten_seen_at is not None and o.rakuten_seen_at > first_seen for o in orders)


async def test_oversized_values_are_skipped_or_clipped_and_the_rest_is_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await add_connection(sessions)
    async with sessions() as session:
        sales = [
            _sale("100", item_id="11"),
            _sale("101", item_id="12", sku="S" * 300),  # longer than the SKU column
            _sale("102", item_id="9" * 80),  # longer than the item column
            _sale("7" * 80, item_id="13"),  # no purchase id we can key on
            _sale("103", item_id="14", shipping_type="Livraison " * 40),  # unknown and very long
        ]
        recorded = await record_sales(session, connection_id, sales, utcnow())
        await session.commit()  # on PostgreSQL an overlong value would fail right here
    async with sessions() as session:
        orders = {
            o.purchase_id: o for o in await session.scalars(select(Order).options(selectinload(Order.items)))
        }
    assert set(orders) == {"100", "101", "102", "103"}
    assert (orders["100"].state, recorded.to_import) == ("importing", [orders["100"].id])
    for too_long in ("101", "102"):
        assert (orders[too_long].state, orders[too_long].reason, orders[too_long].items) == (
            "skipped",
            TOO_LONG,
            [],
        )
    assert orders["103"].state == "skipped"
    assert orders["103"].shipping_type is not None
    assert len(orders["103"].shipping_type) == 128


async def test_a_purchase_listed_twice_in_one_answer_is_one_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await add_connection(sessions)
    async with sessions() as session:
        twice = _sale("200", item_id="21")
        second_item = Item("22", "SKU-2", "9", "Produit", "TO_CONFIRM", False, Decimal("10"))
        listing = [twice, _sale("201", item_id="23"), replace(twice, items=(*twice.items, second_item))]
        recorded = await record_sales(session, connection_id, listing, utcnow())
        await session.commit()
    async with sessions() as session:
        orders = {
            o.purchase_id: o for o in await session.scalars(select(Order).options(selectinload(Order.items)))
        }
    assert set(orders) == {"200", "201"}
    assert len(recorded.to_import) == 2
    assert [item.item_id for item in orders["200"].items] == ["21", "22"]  # every item Rakuten listed for it


async def test_a_purchase_an_earlier_connection_of_the_seller_imported_is_skipped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        first = Connection(merchant_id="m", name="n", seller_id="Shop ", seller_key="shop", state="disconnected")
        session.add(first)
        await session.commit()
        await record_sales(session, first.id, [_sale("300"), _sale("301", status="CANCELLED")], utcnow())
        await session.commit()
        again = Connection(merchant_id="m", name="n", seller_id="SHOP", seller_key="shop")
        session.add(again)
        await session.commit()
        for _ in range(2):  # seen again at the next poll: still not imported
            recorded = await record_sales(session, again.id, [_sale("300"), _sale("302")], utcnow())
            await session.commit()
        orders = {
            o.purchase_id: o for o in await session.scalars(select(Order).where(Order.connection_id == again.id))
        }
    assert recorded.to_import == []  # the second poll: 302 was imported by the first
    assert recorded.already_imported == 1
    assert (orders["300"].state, orders["300"].reason) == ("skipped", ALREADY_IMPORTED)
    assert orders["302"].state == "importing"


async def test_a_purchase_cubyn_refused_to_an_earlier_connection_is_imported_by_the_new_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Failed without a parcel, or skipped: the earlier connection never sent it, so this one does."""
    async with sessions() as session:
        first = Connection(merchant_id="m", name="n", seller_id="shop", seller_key="shop", state="disconnected")
        session.add(first)
        await session.commit()
        await record_sales(session, first.id, [_sale("400"), _sale("401")], utcnow())
        await session.commit()
        by_purchase = {o.purchase_id: o for o in await session.scalars(select(Order))}
        by_purchase["400"].state = OrderState.FAILED.value  # Cubyn refused its address: no parcel
        by_purchase["401"].state, by_purchase["401"].parcel_id = OrderState.FAILED.value, "9"  # failed later
        await session.commit()
        again = Connection(merchant_id="m", name="n", seller_id="shop", seller_key="shop")
        session.add(again)
        await session.commit()
        recorded = await record_sales(session, again.id, [_sale("400"), _sale("401")], utcnow())
        await session.commit()
        orders = {
            o.purchase_id: o for o in await session.scalars(select(Order).where(Order.connection_id == again.id))
        }
    assert orders["400"].state == "importing"
    assert (orders["401"].state, orders["401"].reason) == ("skipped", ALREADY_IMPORTED)
    assert recorded.already_imported == 1


async def test_what_was_recorded_is_counted_by_reason_code(sessions: async_sessionmaker[AsyncSession]) -> None:
    connection_id = await add_connection(sessions)
    sales = [_sale("600", item_id="61"), _sale("601", item_id="62", sku="")]

    def counts() -> tuple[float, float]:
        imported = REGISTRY.get_sample_value("rakuten_connector_orders_imported_total") or 0.0
        skipped = REGISTRY.get_sample_value("rakuten_connector_orders_skipped_total", {"reason": "empty_sku"})
        return imported, skipped or 0.0

    before = counts()
    async with sessions() as session:
        recorded = await record_sales(session, connection_id, sales, utcnow())
        await session.commit()
    recorded.count()
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
    assert recorded.skip_codes == {"empty_sku": 1}


def test_an_answer_is_cut_in_parts_of_whole_purchases_in_its_order() -> None:
    sales = [_sale("1"), _sale("2"), _sale("1", item_id="2"), _sale("3"), _sale("4"), _sale("5")]
    parts = [[(s.purchase_id, s.items[0].item_id) for s in part] for part in purchase_chunks(sales, 2)]
    assert parts == [[("1", "1"), ("1", "2"), ("2", "1")], [("3", "1"), ("4", "1")], [("5", "1")]]
    assert list(purchase_chunks([], 2)) == []


def test_the_parts_of_an_answer_add_up() -> None:
    first = Recorded(to_import=["a"], skipped=1)
    first.skip_codes["no_sku"] += 1
    second = Recorded(to_import=["b"], already_imported=1)
    second.skip_codes.update({"no_sku": 1, "already_imported": 1})
    first.add(second)
    assert (first.to_import, first.skipped, first.already_imported) == (["a", "b"], 1, 1)
    assert first.skip_codes == {"no_sku": 2, "already_imported": 1}
