"""`GET /v1/connections/{connection_id}/activity`: a connection's orders and webhook events per hour."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from rakuten_connector.connections import service as connections
from rakuten_connector.connections.schemas import ConnectionIdParam
from rakuten_connector.deps import CurrentPrincipal, SessionDep
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import DATABASE_UNAVAILABLE, NOT_FOUND, UNAUTHORIZED, error_responses
from rakuten_connector.orders.activity import HOURS, hourly_activity

router = APIRouter(prefix="/v1/connections/{connection_id}", tags=["connections"])


class ActivityHour(BaseModel):
    start: datetime = Field(description="The start of the clock hour (UTC); the hour runs to the next one.")
    imported: int = Field(description="Orders the connector recorded in this hour (skipped ones included).")
    accepted: int = Field(description="Orders whose first item was accepted on Rakuten in this hour.")
    shipped: int = Field(description="Orders whose tracking first reached Rakuten in this hour.")
    webhook_events: int = Field(description="Cubyn webhook events received for the connection in this hour.")


class ActivityOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "connection_id": "8d0f5a4e-2b7c-4f7e-9a61-3f2d9c1b7e10",
                "since": "2026-12-04T15:00:00Z",
                "until": "2026-12-06T15:00:00Z",
                "hours": [
                    {
                        "start": "2026-12-06T14:00:00Z",
                        "imported": 12,
                        "accepted": 9,
                        "shipped": 7,
                        "webhook_events": 31,
                    }
                ],
            }
        }
    )

    connection_id: str
    since: datetime = Field(description="Start of the oldest hour.")
    until: datetime = Field(description="End of the newest hour (the current hour, still running).")
    hours: list[ActivityHour] = Field(
        description=f"The last {HOURS} clock hours, oldest first, every hour present (zeros included)."
    )


@router.get(
    "/activity",
    operation_id="connections.activity",
    summary="A connection's activity per hour",
    description=f"Orders imported, accepted and shipped, and Cubyn webhook events received, per clock hour "
    f"over the last {HOURS} hours (UTC). An order counts as accepted (or shipped) in the hour its first item "
    "was accepted (or its tracking first pushed) on Rakuten. The connection's merchant or an operator; "
    "any other caller gets 404, as for a connection that does not exist.",
    responses=error_responses(UNAUTHORIZED, NOT_FOUND, DATABASE_UNAVAILABLE),
)
async def connection_activity(
    connection_id: ConnectionIdParam, principal: CurrentPrincipal, session: SessionDep
) -> ActivityOut:
    connection = await connections.get_visible(session, principal, connection_id)
    activity = await hourly_activity(session, connection.id, utcnow())
    return ActivityOut(
        connection_id=connection.id,
        since=activity.since,
        until=activity.until,
        hours=[
            ActivityHour(
                start=hour.start,
                imported=hour.imported,
                accepted=hour.accepted,
                shipped=hour.shipped,
                webhook_events=hour.webhook_events,
            )
            for hour in activity.hours
        ],
    )
