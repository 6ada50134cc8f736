"""Receive Cubyn events: verify, deduplicate, validate, store. Handling happens later in a job."""

from __future__ import annotations

import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from pydantic import ValidationError
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import insert_ignore
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.errors import ApiError, NotFound, parse_json_body
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.webhooks.schemas import KNOWN_EVENTS, EventEnvelope

MAX_WEBHOOK_ID_LENGTH = 255


@dataclass(frozen=True)
class Received:
    event_id: str | None
    event_type: str | None
    duplicate: bool
    received_at: datetime | None = None

    @property
    def needs_handling(self) -> bool:
        return not self.duplicate and self.event_type in KNOWN_EVENTS


def _invalid_signature(message: str) -> ApiError:
    return ApiError(401, "invalid_signature", message)


async def _connection(session: AsyncSession, connection_id: str) -> Connection:
    try:
        uuid.UUID(connection_id)
    except ValueError:
        raise NotFound("connection") from None
    connection = await session.get(Connection, connection_id)
    if connection is None:
        raise NotFound("connection")
    if not connection.is_live or connection.webhook_secret_enc is None:
        raise ApiError(410, "connection_disconnected", "This connection is disconnected: stop sending events.")
    return connection


def verify_signature(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Standard Webhooks: HMAC-SHA256, several signatures allowed, 5-minute tolerance, constant-time."""
    wanted = {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature") if k in headers}
    try:
        Webhook(secret).verify(body, wanted, json_parse=False)
    except WebhookVerificationError as exc:
        raise _invalid_signature(f"Signature refused: {exc}.") from None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        # Malformed signature header (no comma, bad base64) or a body that cannot have been signed as text.
        raise _invalid_signature("Signature refused: malformed signature or body.") from None


async def receive(
    session: AsyncSession, box: SecretBox, connection_id: str, body: bytes, headers: Mapping[str, str]
) -> Received:
    connection = await _connection(session, connection_id)
    assert connection.webhook_secret_enc is not None
    verify_signature(box.decrypt(connection.webhook_secret_enc).get_secret_value(), body, headers)
    webhook_id = headers["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        raise ApiError(400, "invalid_event", "webhook-id is too long.")
    seen = await session.scalar(
        select(WebhookEvent.id).where(
            WebhookEvent.connection_id == connection.id, WebhookEvent.webhook_id == webhook_id
        )
    )
    if seen is not None:
        return Received(seen, None, duplicate=True)
    document = parse_json_body(body)
    try:
        envelope = EventEnvelope.model_validate(document)
        model = KNOWN_EVENTS.get(envelope.type)
        if model is not None:
            model.model_validate(document)
    except ValidationError as exc:
        details = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        message = "The event lacks the fields of its type, or holds values that cannot be applied."
        raise ApiError(400, "invalid_event", message, details) from None
    event_id, received_at = str(uuid.uuid4()), utcnow()
    known = envelope.type in KNOWN_EVENTS
    inserted = await insert_ignore(
        session,
        WebhookEvent.__table__,
        {
            "id": event_id,
            "connection_id": connection.id,
            "webhook_id": webhook_id,
            "event_type": envelope.type,
            "payload": body.decode(),
            "status": (EventStatus.PENDING if known else EventStatus.IGNORED).value,
            "attempts": 0,
            "received_at": received_at,
        },
        ["connection_id", "webhook_id"],
    )
    if not inserted:  # the same delivery raced us
        return Received(None, None, duplicate=True)
    return Received(event_id, envelope.type, duplicate=False, received_at=received_at)


# -- the stored events, for the domains that apply them ------------------------------------------------


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
