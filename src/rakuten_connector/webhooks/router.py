"""`POST /v1/webhooks/cubyn/{connection_id}`: Cubyn events, answered 2xx only once stored and queued."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, FastAPI, Request, Response
from pydantic import BaseModel
from starlette.routing import Route

from rakuten_connector.kit.errors import error_responses
from rakuten_connector.webhooks.intake import Delivery, EventIntake

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
_CUBYN = "/cubyn/{connection_id}"
PATH = router.prefix + _CUBYN

# The two answers, encoded once: this route is the hottest of the API.
_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]


@router.post(
    _CUBYN,
    response_model=WebhookAck,
    responses=error_responses(
        {
            400: ("invalid_event", "Signed, but lacking the fields of its type (or `malformed_json`)."),
            401: ("invalid_signature", "Missing or wrong signature, or a timestamp more than 5 minutes away."),
            404: ("not_found", "Unknown connection."),
            410: ("connection_disconnected", "Disconnected connection: stop sending."),
            503: (
                "database_unavailable",
                "Not stored (the database is away, or `unavailable`: the service is stopping): send it again.",
            ),
        }
    ),
)
async def receive_cubyn_event(connection_id: str, request: Request) -> Response:
    """Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The same `webhook-id`
    again is a `duplicate` and changes nothing."""
    intake: EventIntake = request.app.state.intake
    received = await intake.receive(Delivery(connection_id, await request.body(), request.headers))
    return Response(_DUPLICATE if received.duplicate else _ACCEPTED, media_type="application/json")


async def _receive_fast(request: Request) -> Response:
    return await receive_cubyn_event(request.path_params["connection_id"], request)


def serve_webhooks_first(app: FastAPI) -> None:
    """Answer the webhook route ahead of FastAPI's own routing: a plain route placed first skips matching
    every other route and FastAPI's per-request machinery (dependency solving, exit stacks), which cost this
    route, the hottest of the API, more than its own work. The route above still describes it in the
    OpenAPI document; errors go through the application's handlers like any other route's."""
    app.router.routes.insert(0, Route(PATH, _receive_fast, methods=["POST"], name="receive_cubyn_event"))
