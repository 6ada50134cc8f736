"""The stored Cubyn events, for the domains that apply them (`webhooks.intake` stores them) and for the
operators who look at them and have them handled again. Services flush but never commit."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.cursors import decode_position, encode_position, fetch_page
from rakuten_connector.kit.errors import ApiError, NotFound
from rakuten_connector.kit.queue import AfterCommit, Job
from rakuten_connector.webhooks.jobs import handling_job
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent


async def pending_events(
    session: AsyncSession, connection_id: str, event_type: str, limit: int
) -> list[tuple[str, str]]:
    """The oldest pending events of a type for one connection, as (id, payload), locked for this transaction
    (PostgreSQL: a concurrent reader skips them)."""
    rows = await session.execute(
        select(WebhookEvent.id, WebhookEvent.payload)
        .where(
            WebhookEvent.connection_id == connection_id,
            WebhookEvent.event_type == event_type,
            WebhookEvent.status == EventStatus.PENDING.value,
        )
        .order_by(WebhookEvent.received_at, WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(event_id, payload) for event_id, payload in rows]


async def overdue_events(
    session: AsyncSession, event_type: str, received_before: datetime, limit: int
) -> list[tuple[str, str, datetime]]:
    """Pending events of a type received before `received_before` (their job may be lost), oldest first,
    as (id, connection id, received at)."""
    rows = await session.execute(
        select(WebhookEvent.id, WebhookEvent.connection_id, WebhookEvent.received_at)
        .where(
            WebhookEvent.status == EventStatus.PENDING.value,
            WebhookEvent.event_type == event_type,
            WebhookEvent.received_at <= received_before,
        )
        .order_by(WebhookEvent.received_at)
        .limit(limit)
    )
    return [(event_id, connection_id, received_at) for event_id, connection_id, received_at in rows]


async def connections_with_overdue_events(
    session: AsyncSession, event_type: str, received_before: datetime, limit: int
) -> list[str]:
    """The connections that have pending events of a type received before `received_before` (one row each,
    so one connection's backlog never hides another's)."""
    rows = await session.scalars(
        select(WebhookEvent.connection_id)
        .where(
            WebhookEvent.status == EventStatus.PENDING.value,
            WebhookEvent.event_type == event_type,
            WebhookEvent.received_at <= received_before,
        )
        .group_by(WebhookEvent.connection_id)
        .limit(limit)
    )
    return list(rows)


async def finish_events(session: AsyncSession, outcomes: Mapping[str, str | None], status: EventStatus) -> None:
    """Each still pending event of `outcomes` gets `status` and its reason (None: no reason), in one
    statement; the caller commits."""
    if not outcomes:
        return
    events = cast(Table, WebhookEvent.__table__)
    await session.execute(
        update(events)
        .where(events.c.id == bindparam("b_id"), events.c.status == EventStatus.PENDING.value)
        .values(
            status=status.value,
            last_error=bindparam("b_reason"),
            processed_at=utcnow(),
            attempts=events.c.attempts + 1,
        ),
        [{"b_id": event_id, "b_reason": reason} for event_id, reason in sorted(outcomes.items())],
    )


# The events an operator may have handled again: one that failed, or one still waiting (its job lost).
REPLAYABLE = frozenset({EventStatus.FAILED.value, EventStatus.PENDING.value})


async def list_events(
    session: AsyncSession, status: EventStatus, connection_id: str | None, limit: int, cursor: str | None = None
) -> tuple[list[WebhookEvent], str | None]:
    """A page of at most `limit` events in `status` (of one connection when given), newest first, after
    `cursor`, and the cursor of the next page (None on the last). Without their bodies (up to the body limit
    each: a listing shows none of it)."""
    query = select(WebhookEvent).options(defer(WebhookEvent.payload)).where(WebhookEvent.status == status.value)
    if connection_id is not None:
        query = query.where(WebhookEvent.connection_id == connection_id)
    if cursor:
        received_at, event_id = decode_position(cursor)
        # A row comparison, which the (status, received_at) index seeks to: a deep page costs what the first does.
        query = query.where(tuple_(WebhookEvent.received_at, WebhookEvent.id) < tuple_(received_at, event_id))
    query = query.order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
    return await fetch_page(session, query, limit, lambda event: encode_position(event.received_at, event.id))


async def get_event(session: AsyncSession, event_id: str) -> WebhookEvent:
    event = await session.get(WebhookEvent, event_id) if _is_uuid(event_id) else None
    if event is None:
        raise NotFound("webhook event")
    return event


async def request_replay(session: AsyncSession, event: WebhookEvent) -> Job | None:
    """Put a failed or pending event back to pending, to be handled again as if it had just come in (409 for
    one that was processed or ignored, also when a worker finishes it meanwhile: one conditional UPDATE
    decides); returns its job, to send once this is committed."""
    replayed = await session.scalar(
        update(WebhookEvent)
        .where(WebhookEvent.id == event.id, WebhookEvent.status.in_(REPLAYABLE))
        .values(status=EventStatus.PENDING.value, last_error=None, processed_at=None)
        .returning(WebhookEvent.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(event)
    if replayed is None:
        raise ApiError(
            409,
            "event_not_replayable",
            f"Only failed or pending events can be replayed (this one is {event.status}).",
        )
    now = utcnow()
    return handling_job(event.event_type, event.id, event.connection_id, now, now)


async def replay(session: AsyncSession, jobs: AfterCommit, event_id: str) -> WebhookEvent:
    """What `webhooks replay` and `POST /v1/webhook-events/{id}/replay` do: 404 for an unknown event, 409 for
    one that cannot be replayed (`request_replay`); its job goes to `jobs`, sent once the caller commits."""
    event = await get_event(session, event_id)
    job = await request_replay(session, event)
    if job is not None:
        jobs.add(job)
    return event


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
