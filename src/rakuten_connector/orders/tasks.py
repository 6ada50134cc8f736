"""The order jobs and ticks, as the worker runs them."""

from __future__ import annotations

from rakuten_connector.orders import poll, scheduler
from rakuten_connector.orders.check import check_order
from rakuten_connector.orders.jobs import CHECK_ORDER, IMPORT_CONNECTION, IMPORT_CONNECTIONS
from rakuten_connector.orders.order_lease import with_order
from rakuten_connector.runtime import Runtime
from rakuten_connector.tasks import Jobs, Tick


async def check_one_order(rt: Runtime, order_id: str) -> None:
    """Look at one order again under its lease (`orders/check.py`)."""
    await with_order(rt, order_id, check_order)


JOBS: Jobs = {
    IMPORT_CONNECTION: poll.import_connection,
    IMPORT_CONNECTIONS: poll.import_connections,
    CHECK_ORDER: check_one_order,
}
TICKS = (
    Tick("schedule_imports", scheduler.schedule_imports, frozenset(range(60))),
    Tick("sweep", scheduler.sweep, frozenset({2, 17, 32, 47}), timeout=120),
)
