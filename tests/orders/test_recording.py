"""Recording sales: Rakuten's values too long for their columns never make a shop's import fail."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rakuten_connector.clients.rakuten_models import Address, Item, Sale
from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order
from rakuten_connector.orders.recording import TOO_LONG, record_sales

HOME = Address("M.", "Jean", "Dupont", "12 rue de la Paix", "", "75002", "Paris", "France", "FR", "0612345678", "")


def _sale(purchase_id: str, item_id: str = "1", sku: str = "SKU-1", status: str = "TO_CONFIRM", **kw: str) -> Sale:
    item = Item(item_id, sku, "9", "Produit", status, False, Decimal("10"))
    shipping = kw.get("shipping_type", "Normal")
    return Sale(purchase_id, utcnow(), shipping, HOME, None, None, "a@example.fr", "buyer", (item,))


async def test_oversized_values_are_skipped_or_clipped_and_the_rest_is_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        connection = Connection(merchant_id="m", name="n", seller_id="s", seller_key="s")
        session.add(connection)
        await session.commit()
        sales = [
            _sale("100", item_id="11"),
            _sale("101", item_id="12", sku="S" * 300),  # longer than the SKU column
            _sale("102", item_id="9" * 80),  # longer than the item column
            _sale("7" * 80, item_id="13"),  # no purchase id we can key on
            _sale("103", item_id="14", shipping_type="Livraison " * 40),  # unknown and very long
        ]
        recorded = await record_sales(session, connection.id, sales, utcnow())
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
