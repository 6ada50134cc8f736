"""The stored events as other domains see them: pending ones of a type, overdue ones, and their outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.webhooks import service
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from tests.factories import add_connection

NOW = utcnow()


async def _events(sessions: async_sessionmaker[AsyncSession], *rows: tuple[str, str, str, int]) -> None:
    """(connection id, webhook id, type, minutes ago) each, pending unless the webhook id says `done`."""
    async with sessions() as session:
        for connection_id, webhook_id, event_type, minutes_ago in rows:
            done = webhook_id.startswith("done")
            session.add(
                WebhookEvent(
                    connection_id=connection_id,
                    webhook_id=webhook_id,
                    event_type=event_type,
                    payload=f'{{"id": "{webhook_id}"}}',
                    status=(EventStatus.PROCESSED if done else EventStatus.PENDING).value,
                    received_at=NOW - timedelta(minutes=minutes_ago),
                )
            )
        await session.commit()


async def test_pending_events_are_one_connections_of_one_type_oldest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, b = await add_connection(sessions, seller_key="a"), await add_connection(sessions, seller_key="b")
    await _events(
        sessions,
        (a, "new", "stock.updated", 1),
        (a, "old", "stock.updated", 9),
        (a, "done-1", "stock.updated", 20),
        (a, "parcel", "parcel.updated", 30),
        (b, "other-shop", "stock.updated", 40),
    )
    async with sessions() as session:
        pending = await service.pending_events(session, a, "stock.updated", 10)
        assert [payload for _, payload in pending] == ['{"id": "old"}', '{"id": "new"}']
        assert len(await service.pending_events(session, a, "stock.updated", 1)) == 1


async def test_overdue_events_and_the_connections_that_have_some(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a, b = await add_connection(sessions, seller_key="a"), await add_connection(sessions, seller_key="b")
    await _events(
        sessions,
        (a, "a1", "parcel.updated", 10),
        (a, "a2", "parcel.updated", 8),
        (a, "a-fresh", "parcel.updated", 0),
        (b, "b1", "parcel.updated", 5),
        (b, "done-b", "parcel.updated", 50),
    )
    async with sessions() as session:
        overdue = await service.overdue_events(session, "parcel.updated", NOW - timedelta(minutes=1), 10)
        assert [connection for _, connection, _ in overdue] == [a, a, b]
        # One row per connection: a shop with a long backlog does not hide the others.
        shops = await service.connections_with_overdue_events(session, "parcel.updated", NOW, 2)
        assert sorted(shops) == sorted([a, b])
        assert await service.overdue_events(session, "stock.updated", NOW, 10) == []


async def test_finishing_events_gives_each_its_outcome_and_leaves_finished_ones_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    a = await add_connection(sessions)
    await _events(
        sessions, (a, "ok", "stock.updated", 3), (a, "bad", "stock.updated", 2), (a, "done-x", "stock.updated", 1)
    )
    async with sessions() as session:
        ids = {e.webhook_id: e.id for e in (await session.scalars(select(WebhookEvent))).all()}
        await service.finish_events(session, {ids["ok"]: None}, EventStatus.PROCESSED)
        await service.finish_events(
            session, {ids["bad"]: "quantity out of range", ids["done-x"]: "late"}, EventStatus.FAILED
        )
        await service.finish_events(session, {}, EventStatus.FAILED)
        await session.commit()
    async with sessions() as session:
        rows = {e.webhook_id: e for e in (await session.scalars(select(WebhookEvent))).all()}
    assert (rows["ok"].status, rows["ok"].last_error, rows["ok"].attempts) == ("processed", None, 1)
    assert (rows["bad"].status, rows["bad"].last_error) == ("failed", "quantity out of range")
    assert rows["bad"].processed_at is not None
    assert (rows["done-x"].status, rows["done-x"].last_error) == ("processed", None)  # already finished: unchanged


async def test_a_replay_loses_to_a_worker_that_finished_the_event_meanwhile(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connection_id = await add_connection(sessions)
    await _events(sessions, (connection_id, "w-1", "parcel.updated", 1))
    async with sessions() as session:
        event = (await session.scalars(select(WebhookEvent))).one()  # read as pending, replayable
        async with sessions() as worker:
            await service.finish_events(worker, {event.id: None}, EventStatus.PROCESSED)
            await worker.commit()
        with pytest.raises(ApiError) as refused:
            await service.request_replay(session, event)
        assert (refused.value.status_code, refused.value.code) == (409, "event_not_replayable")
        await session.rollback()
    async with sessions() as session:
        assert (await session.scalars(select(WebhookEvent.status))).one() == EventStatus.PROCESSED.value
