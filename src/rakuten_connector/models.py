"""Every table, imported once so metadata (alembic, tests) sees them all."""

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import Base
from rakuten_connector.orders.models import Order

__all__ = ["Base", "Connection", "Order"]
