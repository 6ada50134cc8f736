"""Rotating a connection's webhook secret without losing an event.

A secret Cubyn holds cannot change at the same instant on both sides: after a rotation the connection keeps
the secret it replaced for a grace period (`WEBHOOK_SECRET_GRACE_SECONDS`), and the intake accepts an event
signed with either (Standard Webhooks lets a sender put several signatures in `webhook-signature`, so Cubyn
may sign with both while it switches). Once the grace is over only the new secret verifies.

There is room for one previous secret: rotating again during a grace period makes the current secret the
previous one (with a grace of its own, from now) and drops the older one at once.

Two rotations racing must not both hand out a secret: the row is written by one UPDATE that names the
ciphertext it read (`connections.service.replace_webhook_secret`), so the loser reads the row again and
rotates from what the winner wrote (a `keys rotate` re-encrypting the row meanwhile has the same effect).
Services flush but never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.service import replace_webhook_secret
from rakuten_connector.connections.usable import must_be_live
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.crypto import SecretBox, new_webhook_secret
from rakuten_connector.kit.errors import ApiError

log = structlog.get_logger(__name__)

# How often a rotation reads the row again when its secret keeps changing under it.
ROTATION_TRIES = 5


@dataclass(frozen=True)
class RotatedSecret:
    """The new secret (to show once) and until when the one it replaced still verifies events."""

    secret: str
    previous_valid_until: datetime
    grace: timedelta


async def rotate_webhook_secret(
    session: AsyncSession, connection: Connection, box: SecretBox, grace: timedelta
) -> RotatedSecret:
    """Give `connection` a new webhook secret; the current one stays valid for `grace` (409 for a
    disconnected connection). The caller commits."""
    secret = new_webhook_secret()
    for _ in range(ROTATION_TRIES):
        must_be_live(connection)
        read = connection.webhook_secret_enc
        until = utcnow() + grace
        if await replace_webhook_secret(session, connection, read, box.encrypt(secret), until):
            # Which connection and until when, never a secret.
            log.info("webhook_secret_rotated", connection_id=connection.id, previous_valid_until=until.isoformat())
            return RotatedSecret(secret, until, grace)
    raise ApiError(409, "webhook_secret_changing", "The webhook secret is changing right now: try again.")
