"""The demo's live view: what happened to the demo shop's orders, read from the database every second."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.demo.shop import DemoShop
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderEvent, OrderState
from rakuten_connector.settings import Settings

STATE_STYLES = {
    OrderState.IMPORTING: "cyan",
    OrderState.IMPORTED: "blue",
    OrderState.ACCEPTED: "magenta",
    OrderState.SHIPPED: "green",
    OrderState.SKIPPED: "yellow",
    OrderState.NEEDS_ATTENTION: "red",
    OrderState.CANCELLED: "dim",
    OrderState.FAILED: "bold red",
}
EXPLAINED_STATES = (OrderState.SKIPPED.value, OrderState.NEEDS_ATTENTION.value, OrderState.FAILED.value)
EVENTS_SHOWN = 8
REASONS_SHOWN = 6
_ITEM_NUMBER = re.compile(r"\b\d{6,}\b")


@dataclass
class Snapshot:
    counts: dict[str, int] = field(default_factory=dict)
    reasons: list[tuple[str, str, int]] = field(default_factory=list)
    events: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    last_import_at: datetime | None = None
    next_import_at: datetime | None = None
    last_import_error: str | None = None

    @property
    def imported(self) -> int:
        return sum(n for state, n in self.counts.items() if state != OrderState.SKIPPED)


async def read_snapshot(sessions: async_sessionmaker[AsyncSession], connection_id: str) -> Snapshot:
    async with sessions() as session:
        counts = await session.execute(
            select(Order.state, func.count()).where(Order.connection_id == connection_id).group_by(Order.state)
        )
        reasons = await session.execute(
            select(Order.state, Order.reason, func.count())
            .where(Order.connection_id == connection_id, Order.state.in_(EXPLAINED_STATES))
            .group_by(Order.state, Order.reason)
            .order_by(func.count().desc())
        )
        events = await session.execute(
            select(OrderEvent.at, Order.purchase_id, OrderEvent.kind, OrderEvent.message)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(Order.connection_id == connection_id)
            .order_by(OrderEvent.id.desc())
            .limit(EVENTS_SHOWN)
        )
        connection = await session.get(Connection, connection_id)
        return Snapshot(
            counts={state: n for state, n in counts.all()},
            reasons=[(state, reason or "", n) for state, reason, n in reasons.all()],
            events=[(at, purchase_id, kind, message) for at, purchase_id, kind, message in events.all()],
            last_import_at=connection.last_import_at if connection else None,
            next_import_at=connection.next_import_at if connection else None,
            last_import_error=connection.last_import_error if connection else None,
        )


def _seconds_until(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return f"in {max(0, round((moment - utcnow()).total_seconds()))} s"


def render(shop: DemoShop, snapshot: Snapshot, next_sales_in: float | None) -> RenderableType:
    counts = snapshot.counts
    accepted = counts.get(OrderState.ACCEPTED, 0) + counts.get(OrderState.SHIPPED, 0)
    header = Text.assemble(
        ("rakuten-connector demo", "bold"),
        f"   shop {shop.login}   docs {shop.api_url}/docs   ",
        ("Ctrl-C stops", "dim"),
    )
    funnel = Text.assemble(
        ("Rakuten sales ", "bold"),
        f"{shop.sales_created}  ->  ",
        ("imported ", "bold blue"),
        f"{snapshot.imported}  ->  ",
        ("accepted on Rakuten ", "bold magenta"),
        f"{accepted}  ->  ",
        ("shipped ", "bold green"),
        f"{counts.get(OrderState.SHIPPED, 0)}     ",
        ("skipped ", "bold yellow"),
        str(counts.get(OrderState.SKIPPED, 0)),
    )
    states = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for state, style in STATE_STYLES.items():
        states.add_column(Text(state.value, style=style), justify="right")
    states.add_row(*(str(counts.get(state, 0)) for state in STATE_STYLES))
    timing = Text.assemble(
        ("last import ", "bold"),
        f"{snapshot.last_import_at:%H:%M:%S} UTC" if snapshot.last_import_at else "-",
        ("   next import ", "bold"),
        _seconds_until(snapshot.next_import_at),
        ("   new sales ", "bold"),
        "-" if next_sales_in is None else f"in {max(0, round(next_sales_in))} s",
    )
    if snapshot.last_import_error:
        timing.append(f"   {snapshot.last_import_error}", style="red")
    reasons = Table(box=box.SIMPLE_HEAD, expand=True, title="Not imported, or waiting", title_justify="left")
    reasons.add_column("state", no_wrap=True)
    reasons.add_column("orders", justify="right")
    reasons.add_column("reason", ratio=1, no_wrap=True, overflow="ellipsis")
    for explained, reason, n in _grouped(snapshot.reasons)[:REASONS_SHOWN]:
        reasons.add_row(Text(explained, style=STATE_STYLES.get(OrderState(explained), "")), str(n), reason)
    events = Table(box=box.SIMPLE_HEAD, expand=True, title="Latest events", title_justify="left")
    events.add_column("UTC", no_wrap=True)
    events.add_column("purchase", no_wrap=True)
    events.add_column("event", no_wrap=True)
    events.add_column("what", ratio=1, no_wrap=True, overflow="ellipsis")
    for at, purchase_id, kind, message in snapshot.events:
        events.add_row(f"{at:%H:%M:%S}", purchase_id, kind, message)
    return Group(header, funnel, Text(), states, timing, reasons, events)


def _grouped(reasons: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """Reasons name the item; "Item 123 has no SKU" and "Item 456 has no SKU" are one reason here."""
    totals: dict[tuple[str, str], int] = {}
    for state, reason, n in reasons:
        key = (state, _ITEM_NUMBER.sub("…", reason))
        totals[key] = totals.get(key, 0) + n
    return sorted(((state, reason, n) for (state, reason), n in totals.items()), key=lambda row: -row[2])


class DemoView:
    def __init__(self, engine: AsyncEngine, shop: DemoShop, console: Console, live: Live | None) -> None:
        self.engine, self.shop, self.console, self.live = engine, shop, console, live
        self.sessions = session_factory(engine)
        self.next_sales_at: float | None = None
        self.last: Snapshot = Snapshot()

    @classmethod
    @asynccontextmanager
    async def open(
        cls, settings: Settings, shop: DemoShop, console: Console, *, live: bool
    ) -> AsyncIterator[DemoView]:
        engine = create_engine(settings.database_url)
        display = Live(console=console, auto_refresh=False, transient=False) if live else None
        view = cls(engine, shop, console, display)
        try:
            if display is not None:
                display.start()
            yield view
        finally:
            if display is not None:
                display.update(view.renderable(), refresh=True)
                display.stop()
            await engine.dispose()

    def renderable(self) -> RenderableType:
        next_sales_in = None
        if self.next_sales_at is not None:
            next_sales_in = self.next_sales_at - asyncio.get_running_loop().time()
        return render(self.shop, self.last, next_sales_in)

    async def run(self, every: float) -> None:
        while True:
            try:
                self.last = await read_snapshot(self.sessions, self.shop.connection_id)
            except SQLAlchemyError:
                # Busy for a moment: show the previous figures and read again next time. A cancellation
                # (the demo stopping) that lands inside the database driver can come out as a database
                # error: it must still stop this loop.
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
            if self.live is not None:
                self.live.update(self.renderable(), refresh=True)
            await asyncio.sleep(every)
