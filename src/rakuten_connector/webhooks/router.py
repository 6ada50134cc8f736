"""`POST /v1/webhooks/cubyn/{connection_id}`: Cubyn events, answered 2xx only once stored and queued."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, FastAPI, Path, Request, Response
from pydantic import BaseModel
from starlette.routing import Route

from rakuten_connector.kit.errors import error_responses
from rakuten_connector.kit.request_ids import current_request_id
from rakuten_connector.webhooks.intake import Delivery, EventIntake

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
_CUBYN = "/cubyn/{connection_id}"
PATH = router.prefix + _CUBYN

# The two answers, encoded once: this route is the hottest of the API.
_ACCEPTED = b'{"status":"accepted"}'
_DUPLICATE = b'{"status":"duplicate"}'


class WebhookAck(BaseModel):
    status: Literal["accepted", "duplicate"]


# The route reads its body raw (the signature is over its exact bytes), so FastAPI cannot infer the body
# nor the signature headers: they are declared here for the OpenAPI document only.
_SIGNATURE_HEADERS_DOC = [
    {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The event's unique id: the same id again is a `duplicate` (at most 255 characters).",
        "schema": {"type": "string", "maxLength": 255},
    },
    {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "When it was signed, in Unix seconds; refused more than 5 minutes away from now.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`: one by the connection's "
        "secret is enough (during a rotation's grace period, the previous secret's too).",
        "schema": {"type": "string"},
    },
]
_EVENT_BODY_DOC = {
    "required": True,
    "description": "A Cubyn event: `parcel.updated` or `stock.updated` (an unknown type is stored and ignored).",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"type": "string", "maxLength": 64, "examples": ["parcel.updated", "stock.updated"]},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "data": {"type": "object", "description": "The parcel, or the SKU and its quantity."},
                },
            },
            "examples": {
                "stock.updated": {
                    "value": {
                        "type": "stock.updated",
                        "timestamp": "2026-11-27T10:06:00Z",
                        "data": {"sku": "SKU-1", "available": 11, "movement": "FULFILMENT", "delta": -1},
                    }
                },
                "parcel.updated": {
                    "value": {
                        "type": "parcel.updated",
                        "timestamp": "2026-11-27T10:05:00Z",
                        "data": {
                            "id": 123456,
                            "orderRef": "RAKUTEN-31862101",
                            "status": "SHIPPED",
                            "updatedAt": "2026-11-27T10:05:00Z",
                        },
                    }
                },
            },
        }
    },
}


@router.post(
    _CUBYN,
    response_model=WebhookAck,
    operation_id="webhooks.receive_cubyn_event",
    summary="Receive a Cubyn event",
    description="Cubyn's webhook, signed with the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`, "
    "`webhook-signature`) by the connection's secret. Answered 200 only once the event is stored; its "
    "handling is queued after that. The same `webhook-id` again is a `duplicate` and changes nothing.",
    openapi_extra={"parameters": _SIGNATURE_HEADERS_DOC, "requestBody": _EVENT_BODY_DOC},
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
async def receive_cubyn_event(
    connection_id: Annotated[str, Path(description="The connection's id, from its webhook URL.")], request: Request
) -> Response:
    intake: EventIntake = request.app.state.intake
    delivery = Delivery(connection_id, await request.body(), request.headers, current_request_id())
    received = await intake.receive(delivery)
    return Response(_DUPLICATE if received.duplicate else _ACCEPTED, media_type="application/json")


async def _receive_fast(request: Request) -> Response:
    # What FastAPI's routes leave in the scope for the HTTP metrics (the route template, not the path).
    request.scope["route"] = FAST_ROUTE
    return await receive_cubyn_event(request.path_params["connection_id"], request)


FAST_ROUTE = Route(PATH, _receive_fast, methods=["POST"], name="receive_cubyn_event")


def serve_webhooks_first(app: FastAPI) -> None:
    """Answer the webhook route ahead of FastAPI's own routing: a plain route placed first skips matching
    every other route and FastAPI's per-request machinery (dependency solving, exit stacks), which cost this
    route, the hottest of the API, more than its own work. The route above still describes it in the
    OpenAPI document; errors go through the application's handlers like any other route's."""
    app.router.routes.insert(0, FAST_ROUTE)
