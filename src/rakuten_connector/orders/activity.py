"""A connection's activity per hour: orders imported, accepted and shipped, and Cubyn webhook events
received, over the last hours (the console's chart).

Each count is one grouped query on the hour of its timestamp. The hour is numbered from the Unix epoch
(`hour_number`) rather than truncated as a date: both databases compute the same integer from a UTC
instant, whatever the session's time zone (PostgreSQL) or the text form of the stored time (SQLite).

- imported: orders recorded (`orders.imported_at`), skipped ones included: the connector saw the sale;
- accepted: orders whose first item was accepted on Rakuten in that hour (`order_items.accepted_at`);
- shipped: orders whose tracking first reached Rakuten in that hour (`order_items.tracking_pushed_at`);
- webhook events: Cubyn events stored for the connection (`webhook_events.received_at`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from rakuten_connector.orders.models import Order, OrderItem
from rakuten_connector.webhooks.models import WebhookEvent

HOURS = 48
_HOUR = 3600


class hour_number(FunctionElement[int]):  # noqa: N801 (a SQL function's name, as SQLAlchemy spells them)
    """Whole hours since 1970-01-01T00:00Z of a timestamp column."""

    type = BigInteger()
    name = "hour_number"
    inherit_cache = True


@compiles(hour_number, "postgresql")
def _hour_number_postgresql(element: hour_number, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor(extract(epoch FROM {compiler.process(element.clauses, **kw)}) / {_HOUR}) AS BIGINT)"


@compiles(hour_number, "sqlite")
def _hour_number_sqlite(element: hour_number, compiler: SQLCompiler, **kw: Any) -> str:
    # The stored text is UTC, `YYYY-MM-DD HH:MM:SS.ffffff` (UTCDateTime binds UTC and SQLite keeps no zone).
    # Its whole seconds only: SQLite's date functions round to milliseconds, and 13:59:59.9999995 read
    # whole would count in the next hour.
    return f"(CAST(strftime('%s', substr({compiler.process(element.clauses, **kw)}, 1, 19)) AS INTEGER) / {_HOUR})"


@dataclass(frozen=True)
class HourActivity:
    start: datetime
    imported: int = 0
    accepted: int = 0
    shipped: int = 0
    webhook_events: int = 0


@dataclass(frozen=True)
class Activity:
    since: datetime
    until: datetime
    hours: list[HourActivity]


def _hour_start(number: int) -> datetime:
    return datetime.fromtimestamp(number * _HOUR, UTC)


def _per_hour(query: Select[*tuple[Any, ...]]) -> Select[int, int]:
    """The rows of `query` (which selects a `moment` column) counted per hour number."""
    rows = query.subquery()
    hour = hour_number(rows.c.moment)
    return select(hour, func.count()).group_by(hour)


async def _counts(session: AsyncSession, query: Select[int, int], first: int, last: int) -> dict[int, int]:
    counts = {int(row[0]): int(row[1]) for row in (await session.execute(query)).all()}
    return {hour: count for hour, count in counts.items() if first <= hour <= last}


def _first_item_time(column: Any, connection_id: str, since: datetime, until: datetime) -> Select[str, datetime]:
    """Per order of the connection, the first time an item reached this step, when it falls in the window."""
    first = func.min(column).label("moment")
    return (
        select(OrderItem.order_id, first)
        .join(Order, Order.id == OrderItem.order_id)
        .where(Order.connection_id == connection_id, column.is_not(None))
        .group_by(OrderItem.order_id)
        .having(first >= since, first < until)
    )


async def hourly_activity(
    session: AsyncSession, connection_id: str, now: datetime, hours: int = HOURS
) -> Activity:
    """The last `hours` clock hours up to the current one (included), oldest first, every hour present."""
    last = int(now.timestamp()) // _HOUR
    first = last - hours + 1
    since, until = _hour_start(first), _hour_start(last + 1)
    imported = select(Order.imported_at.label("moment")).where(
        Order.connection_id == connection_id, Order.imported_at >= since, Order.imported_at < until
    )
    events = select(WebhookEvent.received_at.label("moment")).where(
        WebhookEvent.connection_id == connection_id,
        WebhookEvent.received_at >= since,
        WebhookEvent.received_at < until,
    )
    accepted = _first_item_time(OrderItem.accepted_at, connection_id, since, until)
    shipped = _first_item_time(OrderItem.tracking_pushed_at, connection_id, since, until)
    counts: dict[str, dict[int, int]] = {}
    for name, query in (("imported", imported), ("accepted", accepted), ("shipped", shipped), ("events", events)):
        counts[name] = await _counts(session, _per_hour(query), first, last)
    return Activity(
        since=since,
        until=until,
        hours=[
            HourActivity(
                start=_hour_start(number),
                imported=counts["imported"].get(number, 0),
                accepted=counts["accepted"].get(number, 0),
                shipped=counts["shipped"].get(number, 0),
                webhook_events=counts["events"].get(number, 0),
            )
            for number in range(first, last + 1)
        ],
    )
