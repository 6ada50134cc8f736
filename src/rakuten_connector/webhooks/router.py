"""`POST /v1/webhooks/cubyn/{connection_id}`: Cubyn events, answered 2xx only once stored."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from rakuten_connector.deps import JobsDep, SecretBoxDep, SessionDep
from rakuten_connector.kit.errors import error_responses
from rakuten_connector.webhooks import service
from rakuten_connector.webhooks.jobs import event_job

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]


@router.post(
    "/cubyn/{connection_id}",
    responses=error_responses(
        {
            400: ("invalid_event", "Signed, but lacking the fields of its type (or `malformed_json`)."),
            401: ("invalid_signature", "Missing or wrong signature, or a timestamp more than 5 minutes away."),
            404: ("not_found", "Unknown connection."),
            410: ("connection_disconnected", "Disconnected connection: stop sending."),
        }
    ),
)
async def receive_cubyn_event(
    connection_id: str, request: Request, session: SessionDep, box: SecretBoxDep, jobs: JobsDep
) -> WebhookAck:
    """Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    received = await service.receive(session, box, connection_id, body, headers)
    if received.needs_handling and received.event_id and received.received_at:
        # If Redis is away the event waits in the database for the sweep, which queues it under this same
        # id (so a slow queue never gets it twice).
        jobs.add(event_job(received.event_id, received.received_at))
    await jobs.commit(session)
    return WebhookAck(status="duplicate" if received.duplicate else "accepted")
