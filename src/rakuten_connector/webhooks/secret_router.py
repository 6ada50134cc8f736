"""`POST /v1/connections/{connection_id}/webhook-secret`: a new webhook secret for a connection, the old one
still accepted for a grace period (`webhooks/secret_rotation.py`)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, status

from rakuten_connector.connections import service as connections
from rakuten_connector.connections.schemas import ConnectionIdParam
from rakuten_connector.deps import CurrentPrincipal, SecretBoxDep, SessionDep, SettingsDep
from rakuten_connector.kit.errors import DATABASE_UNAVAILABLE, NOT_FOUND, UNAUTHORIZED, error_responses
from rakuten_connector.webhooks.schemas import WebhookSecretRotated
from rakuten_connector.webhooks.secret_rotation import rotate_webhook_secret

router = APIRouter(prefix="/v1/connections", tags=["connections"])

DISCONNECTED = {
    409: (
        "connection_disconnected",
        "The connection is disconnected (or `webhook_secret_changing`: another rotation is under way, try again).",
    )
}


@router.post(
    "/{connection_id}/webhook-secret",
    status_code=status.HTTP_201_CREATED,
    operation_id="connections.rotate_webhook_secret",
    summary="Rotate the connection's webhook secret",
    description="Creates a new Standard Webhooks secret for the connection and answers it this once (201: it "
    "is never shown again; register it in Cubyn). The secret it replaces keeps verifying Cubyn's events "
    "until `previous_secret_valid_until` (`WEBHOOK_SECRET_GRACE_SECONDS` from now): meanwhile an event signed "
    "with either secret, or with both (several signatures in `webhook-signature`), is accepted; afterwards "
    "only the new one. Rotating again during a grace period makes the current secret the previous one, with a "
    "grace of its own, and the older one stops working at once. The connection's merchant or an operator; "
    "any other caller gets 404, as for a connection that does not exist.",
    responses=error_responses(UNAUTHORIZED, NOT_FOUND, DISCONNECTED, DATABASE_UNAVAILABLE),
)
async def rotate_connection_webhook_secret(
    connection_id: ConnectionIdParam,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    box: SecretBoxDep,
) -> WebhookSecretRotated:
    connection = await connections.get_visible(session, principal, connection_id)
    grace = timedelta(seconds=settings.webhook_secret_grace_seconds)
    rotated = await rotate_webhook_secret(session, connection, box, grace)
    await session.commit()
    return WebhookSecretRotated(
        connection_id=connection.id,
        url=settings.webhook_url(connection.id),
        secret=rotated.secret,
        previous_secret_valid_until=rotated.previous_valid_until,
        grace_period_seconds=settings.webhook_secret_grace_seconds,
    )
