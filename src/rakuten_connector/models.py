"""Every table, imported once so metadata (alembic, tests) sees them all."""

from rakuten_connector.carriers.models import CarrierChoice
from rakuten_connector.connections.models import Connection
from rakuten_connector.db import Base
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem
from rakuten_connector.skus.models import SkuMapping
from rakuten_connector.stock.models import StockFile, StockItem, StockState, StockSync, StockSyncEntry
from rakuten_connector.webhooks.models import WebhookEvent

__all__ = [
    "Base",
    "CarrierChoice",
    "Connection",
    "Order",
    "OrderEvent",
    "OrderItem",
    "SkuMapping",
    "StockFile",
    "StockItem",
    "StockState",
    "StockSync",
    "StockSyncEntry",
    "WebhookEvent",
]
