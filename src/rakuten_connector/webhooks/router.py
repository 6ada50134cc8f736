"""`POST /v1/webhooks/cubyn/{connection_id}`: Cubyn events, answered 2xx only once stored and queued."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from rakuten_connector.kit.errors import error_responses
from rakuten_connector.webhooks.intake import Delivery, EventIntake

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

# The two answers, encoded once: this route is the hottest of the API.
_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]


@router.post(
    "/cubyn/{connection_id}",
    response_model=WebhookAck,
    responses=error_responses(
        {
            400: ("invalid_event", "Signed, but lacking the fields of its type (or `malformed_json`)."),
            401: ("invalid_signature", "Missing or wrong signature, or a timestamp more than 5 minutes away."),
            404: ("not_found", "Unknown connection."),
            410: ("connection_disconnected", "Disconnected connection: stop sending."),
        }
    ),
)
async def receive_cubyn_event(connection_id: str, request: Request) -> Response:
    """Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The same `webhook-id`
    again is a `duplicate` and changes nothing."""
    intake: EventIntake = request.app.state.intake
    received = await intake.receive(Delivery(connection_id, await request.body(), request.headers))
    return Response(_DUPLICATE if received.duplicate else _ACCEPTED, media_type="application/json")
