"""Operators' routes over the stored Cubyn events: list them by status, have one handled again. They call
the same service as `rakuten-connector webhooks list|replay`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from rakuten_connector.deps import CurrentOperator, JobsDep, SessionDep
from rakuten_connector.kit.cursors import INVALID_CURSOR, PositionCursorQuery
from rakuten_connector.kit.errors import (
    DATABASE_UNAVAILABLE,
    FORBIDDEN,
    UNAUTHORIZED,
    VALIDATION_ERROR,
    error_responses,
)
from rakuten_connector.webhooks import service
from rakuten_connector.webhooks.models import EventStatus
from rakuten_connector.webhooks.schemas import EventOut, EventPage

router = APIRouter(prefix="/v1/webhook-events", tags=["webhook events"])

PAGE_MAX = 200
NO_SUCH_EVENT = {404: ("not_found", "No stored event has this id.")}
NOT_REPLAYABLE = {
    409: (
        "event_not_replayable",
        "Only failed or pending events can be replayed (this one is processed or ignored).",
    )
}
EventId = Annotated[str, Path(max_length=64, description="The stored event's id (a UUID, as listed).")]


@router.get(
    "",
    operation_id="webhook_events.list",
    summary="List stored Cubyn events",
    description="Operators only. The stored Cubyn webhook events in one status, newest first, without their "
    "bodies, with why the last handling failed. `failed` events are those to look at; `pending` ones wait for "
    "a worker (a long wait means their job was lost: the sweep queues it again). Paginated: give the answer's "
    "`next_cursor` as `cursor` for the next page.",
    responses=error_responses(UNAUTHORIZED, FORBIDDEN, INVALID_CURSOR, VALIDATION_ERROR, DATABASE_UNAVAILABLE),
)
async def list_webhook_events(
    _: CurrentOperator,
    session: SessionDep,
    status: Annotated[EventStatus, Query(description="The events in this status.")],
    connection_id: Annotated[
        str | None, Query(max_length=36, description="Only this connection's events (its id).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description="At most this many events.")] = 50,
    cursor: PositionCursorQuery = None,
) -> EventPage:
    events, next_cursor = await service.list_events(session, status, connection_id or None, limit, cursor)
    return EventPage(items=[EventOut.of(e) for e in events], next_cursor=next_cursor)


@router.post(
    "/{event_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="webhook_events.replay",
    summary="Handle a stored Cubyn event again",
    description="Operators only. Puts a failed or pending event back to `pending` and queues its job once "
    "that is committed: it is handled as if it had just come in (applying an event twice changes nothing). "
    "Answers the event as it is now. Processed and ignored events are refused with 409.",
    responses=error_responses(
        UNAUTHORIZED, FORBIDDEN, NO_SUCH_EVENT, NOT_REPLAYABLE, VALIDATION_ERROR, DATABASE_UNAVAILABLE
    ),
)
async def replay_webhook_event(
    event_id: EventId, _: CurrentOperator, session: SessionDep, jobs: JobsDep
) -> EventOut:
    event = await service.replay(session, jobs, event_id)
    await jobs.commit(session)
    return EventOut.of(event)
