"""The stock jobs and ticks, as the worker runs them."""

from __future__ import annotations

from rakuten_connector.stock import events, pushes, syncs, ticks
from rakuten_connector.stock.jobs import STOCK_APPLY_EVENTS, STOCK_RUN, STOCK_SYNC_RUN
from rakuten_connector.tasks import Jobs, Tick

JOBS: Jobs = {
    STOCK_RUN: pushes.run_stock,
    STOCK_SYNC_RUN: syncs.run_sync,
    STOCK_APPLY_EVENTS: events.apply_pending,
}
TICKS = (
    Tick("stock_tick", ticks.tick, frozenset(range(3, 60, 5))),
    Tick("stock_nightly", ticks.nightly, frozenset({37}), timeout=120),
)
