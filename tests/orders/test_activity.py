"""A connection's hourly activity: the query's buckets (`orders/activity.py`) and the route that serves them
(`orders/activity_router.py`): every hour present, counts in the right hour, another merchant's connection
and hostile ids answered 404 in the error shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.auth import Role
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.activity import HOURS, hourly_activity
from rakuten_connector.orders.models import Order, OrderItem, OrderState
from rakuten_connector.webhooks.models import WebhookEvent
from tests.conftest import auth_headers
from tests.factories import add_connection

A = auth_headers("merchant-a")
B = auth_headers("merchant-b")
OPERATOR = auth_headers("ops", Role.OPERATOR)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


async def add_order(
    sessions: async_sessionmaker[AsyncSession],
    connection_id: str,
    purchase_id: str,
    imported_at: datetime,
    items: list[tuple[datetime | None, datetime | None]] = (),  # type: ignore[assignment]
) -> None:
    """An order recorded at `imported_at`, with items (accepted_at, tracking_pushed_at)."""
    async with sessions() as session:
        order = Order(
            connection_id=connection_id,
            purchase_id=purchase_id,
            state=OrderState.IMPORTED.value,
            imported_at=imported_at,
        )
        session.add(order)
        await session.flush()
        for n, (accepted_at, pushed_at) in enumerate(items):
            session.add(
                OrderItem(
                    order_id=order.id,
                    item_id=f"{purchase_id}-{n}",
                    sku="SKU-1",
                    rakuten_status="ACCEPTED" if accepted_at else "TO_CONFIRM",
                    accepted_at=accepted_at,
                    tracking_pushed_at=pushed_at,
                )
            )
        await session.commit()


async def add_webhook_events(
    sessions: async_sessionmaker[AsyncSession], connection_id: str, *times: datetime
) -> None:
    async with sessions() as session:
        for n, at in enumerate(times):
            session.add(
                WebhookEvent(
                    connection_id=connection_id,
                    webhook_id=f"msg_{connection_id[:8]}_{n}",
                    event_type="parcel.updated",
                    payload="{}",
                    received_at=at,
                )
            )
        await session.commit()


@pytest.fixture
def now() -> datetime:
    # Half past an hour: "an hour ago" is never on a boundary, whatever the minute the test runs at.
    return datetime(2026, 12, 6, 14, 30, 12, tzinfo=UTC)


async def test_every_hour_is_present_oldest_first_and_empty_hours_count_zero(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    connection_id = await add_connection(sessions)
    async with sessions() as session:
        activity = await hourly_activity(session, connection_id, now)
    starts = [hour.start for hour in activity.hours]
    assert len(starts) == HOURS
    assert starts[-1] == hour_of(now)
    assert starts == [hour_of(now) - timedelta(hours=HOURS - 1 - n) for n in range(HOURS)]
    assert activity.since == starts[0]
    assert activity.until == hour_of(now) + timedelta(hours=1)
    assert all(h.imported == h.accepted == h.shipped == h.webhook_events == 0 for h in activity.hours)


async def test_orders_count_in_the_hour_of_their_import_first_acceptance_and_first_tracking(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    connection_id = await add_connection(sessions)
    other = await add_connection(sessions, seller_id="other", seller_key="other")
    three_ago, two_ago, one_ago = (now - timedelta(hours=n) for n in (3, 2, 1))
    # Two items accepted in different hours: the order counts once, in the hour of the first.
    await add_order(
        sessions,
        connection_id,
        "P1",
        three_ago,
        [(two_ago, one_ago), (one_ago, one_ago + timedelta(minutes=5))],
    )
    await add_order(sessions, connection_id, "P2", three_ago + timedelta(minutes=10), [(None, None)])
    await add_order(sessions, connection_id, "P3", one_ago, [(one_ago, None)])
    await add_order(sessions, connection_id, "P4", now - timedelta(hours=HOURS))  # just before the window
    await add_order(sessions, other, "P1", one_ago, [(one_ago, one_ago)])  # another connection's
    await add_webhook_events(sessions, connection_id, one_ago, one_ago + timedelta(minutes=1), now)
    await add_webhook_events(sessions, other, one_ago)

    async with sessions() as session:
        activity = await hourly_activity(session, connection_id, now)

    by_hour = {hour.start: hour for hour in activity.hours}
    assert (by_hour[hour_of(three_ago)].imported, by_hour[hour_of(three_ago)].accepted) == (2, 0)
    assert (by_hour[hour_of(two_ago)].accepted, by_hour[hour_of(two_ago)].shipped) == (1, 0)
    one = by_hour[hour_of(one_ago)]
    assert (one.imported, one.accepted, one.shipped, one.webhook_events) == (1, 1, 1, 2)
    assert by_hour[hour_of(now)].webhook_events == 1
    totals = [sum(getattr(h, f) for h in activity.hours) for f in ("imported", "accepted", "shipped")]
    assert totals == [3, 2, 1]


async def test_a_time_just_after_an_hour_starts_counts_in_that_hour(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    connection_id = await add_connection(sessions)
    boundary = hour_of(now) - timedelta(hours=5)
    await add_order(sessions, connection_id, "P1", boundary)
    await add_order(sessions, connection_id, "P2", boundary - timedelta(microseconds=1))
    async with sessions() as session:
        by_hour = {h.start: h.imported for h in (await hourly_activity(session, connection_id, now)).hours}
    assert by_hour[boundary] == 1
    assert by_hour[boundary - timedelta(hours=1)] == 1


async def test_the_route_answers_the_merchant_and_operators_hourly_buckets(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    connection_id = await add_connection(sessions, merchant_id="merchant-a")
    moment = utcnow() - timedelta(hours=2)
    await add_order(sessions, connection_id, "P1", moment, [(moment, moment)])
    await add_webhook_events(sessions, connection_id, moment)

    for headers in (A, OPERATOR):
        response = await client.get(f"/v1/connections/{connection_id}/activity", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["connection_id"] == connection_id
        assert len(body["hours"]) == HOURS
        busy = [h for h in body["hours"] if h["imported"]]
        assert len(busy) == 1
        assert datetime.fromisoformat(busy[0]["start"]) == hour_of(moment)
        assert (busy[0]["accepted"], busy[0]["shipped"], busy[0]["webhook_events"]) == (1, 1, 1)


@pytest.mark.parametrize(
    ("connection_id", "status"),
    [
        ("not-a-uuid", 404),
        ("00000000-0000-0000-0000-000000000000", 404),
        ("%27%20OR%201%3D1--", 404),
        ("x" * 5000, 404),
        ("..%2F..%2Fetc%2Fpasswd", 404),
        ("%00", 422),  # the API's guard on unstorable text, before any route
    ],
)
async def test_hostile_or_unknown_ids_get_a_4xx_in_the_error_shape(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], connection_id: str, status: int
) -> None:
    await add_connection(sessions, merchant_id="merchant-a")
    response = await client.get(f"/v1/connections/{connection_id}/activity", headers=OPERATOR)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == ("not_found" if status == 404 else "validation_error")
    assert error["message"]


async def test_another_merchants_connection_answers_like_a_missing_one(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    connection_id = await add_connection(sessions, merchant_id="merchant-a")
    await add_order(sessions, connection_id, "P1", utcnow())
    response = await client.get(f"/v1/connections/{connection_id}/activity", headers=B)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "connection not found"
    unauthenticated = await client.get(f"/v1/connections/{connection_id}/activity")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["code"] == "unauthorized"
