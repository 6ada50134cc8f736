"""Connection lifecycle. Services flush but never commit: the route owns the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy import update as update_rows  # `update` is this module's PATCH of a connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rakuten_connector.connections.checks import CredentialChecker
from rakuten_connector.connections.models import Connection, ConnectionState, seller_key
from rakuten_connector.connections.schemas import ConnectionCreate, ConnectionUpdate
from rakuten_connector.connections.usable import must_be_live
from rakuten_connector.kit.auth import Principal
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.crypto import SecretBox, new_webhook_secret
from rakuten_connector.kit.errors import ApiError, NotFound
from rakuten_connector.orders import out_of_stock
from rakuten_connector.orders.service import wake_waiting_orders
from rakuten_connector.stock import service as stock_service
from rakuten_connector.stock.rules import PublishingRules

Upstream = Literal["rakuten", "cubyn"]


@dataclass(frozen=True)
class CreatedConnection:
    connection: Connection
    webhook_secret: str


def _seller_taken() -> ApiError:
    return ApiError(
        409,
        "seller_already_connected",
        "This Rakuten seller is already connected; disconnect that connection first (orders would import twice).",
    )


async def _live_seller_exists(session: AsyncSession, seller_id: str) -> bool:
    query = select(Connection.id).where(
        Connection.seller_key == seller_key(seller_id), Connection.state != ConnectionState.DISCONNECTED
    )
    return (await session.scalar(query.limit(1))) is not None


def _owner(principal: Principal, requested: str | None) -> str:
    if principal.is_operator:
        if not requested:
            raise ApiError(
                422,
                "validation_error",
                "An operator must say which merchant owns the connection.",
                [{"loc": ["body", "merchant_id"], "type": "missing", "msg": "Field required"}],
            )
        return requested
    if requested is not None and requested != principal.merchant_id:
        raise ApiError(403, "forbidden", "A merchant can only create its own connections.")
    return principal.merchant_id


async def create(
    session: AsyncSession,
    principal: Principal,
    body: ConnectionCreate,
    checker: CredentialChecker,
    box: SecretBox,
) -> CreatedConnection:
    merchant_id = _owner(principal, body.merchant_id)
    # Rakuten first, then Cubyn; nothing is stored unless both answer yes. Whether the seller is already
    # connected is told only to a caller that proved it holds the seller's credentials: anyone else gets
    # the same refusal as for a seller nobody connected.
    await checker.check_rakuten(body.seller_id, body.token)
    await checker.check_cubyn(body.cubyn_api_key)
    if await _live_seller_exists(session, body.seller_id):
        raise _seller_taken()
    webhook_secret = new_webhook_secret()
    connection = Connection(
        id=str(uuid.uuid4()),
        merchant_id=merchant_id,
        name=body.name,
        seller_id=body.seller_id,
        seller_key=seller_key(body.seller_id),
        stock_sync_enabled=body.stock_sync_enabled,
        stock_buffer=body.stock_buffer,
        stock_max=body.stock_max,
        refuse_out_of_stock_after_hours=body.refuse_out_of_stock_after_hours,
        paused=False,
        state=ConnectionState.ACTIVE.value,
        rakuten_token_enc=box.encrypt(body.token),
        cubyn_api_key_enc=box.encrypt(body.cubyn_api_key),
        webhook_secret_enc=box.encrypt(webhook_secret),
        # The first import takes every waiting sale, including older ones: do it now.
        next_import_at=utcnow(),
    )
    session.add(connection)
    try:
        await session.flush()
    except IntegrityError:
        # Another request connected the same seller between our check and our insert.
        await session.rollback()
        raise _seller_taken() from None
    return CreatedConnection(connection, webhook_secret)


async def get_visible(session: AsyncSession, principal: Principal, connection_id: str) -> Connection:
    """Another merchant's connection answers exactly like a missing one."""
    try:
        uuid.UUID(connection_id)
    except ValueError:
        raise NotFound("connection") from None
    connection = await session.get(Connection, connection_id)
    if connection is None or (not principal.is_operator and connection.merchant_id != principal.merchant_id):
        raise NotFound("connection")
    return connection


async def list_visible(session: AsyncSession, principal: Principal, merchant_id: str | None) -> list[Connection]:
    query = select(Connection).order_by(Connection.created_at.desc(), Connection.id)
    if not principal.is_operator:
        query = query.where(Connection.merchant_id == principal.merchant_id)
    elif merchant_id:
        query = query.where(Connection.merchant_id == merchant_id)
    return list((await session.scalars(query)).all())


async def update(
    session: AsyncSession,
    connection: Connection,
    body: ConnectionUpdate,
    checker: CredentialChecker,
    box: SecretBox,
) -> Connection:
    must_be_live(connection)
    # New secrets are checked live before anything changes.
    if body.token is not None:
        await checker.check_rakuten(connection.seller_id, body.token)
    if body.cubyn_api_key is not None:
        await checker.check_cubyn(body.cubyn_api_key)
    stock_was_off = not connection.stock_sync_enabled or connection.paused
    could_call_rakuten = connection.may_call_rakuten
    rules_before = PublishingRules.of(connection)
    refusal_delay = connection.refuse_out_of_stock_after_hours
    _apply_settings(connection, body)
    if body.token is not None:
        connection.rakuten_token_enc = box.encrypt(body.token)
    if body.cubyn_api_key is not None:
        connection.cubyn_api_key_enc = box.encrypt(body.cubyn_api_key)
    if (body.token is not None or body.cubyn_api_key is not None) and (
        connection.state == ConnectionState.CREDENTIALS_INVALID
    ):
        connection.state = ConnectionState.ACTIVE.value
        connection.state_reason = None
    if connection.may_call_rakuten and not could_call_rakuten:
        # Resumed or revived: import now, and let the sweep pick up the Rakuten actions that waited.
        connection.next_import_at = utcnow()
        await wake_waiting_orders(session, connection.id)
    if stock_was_off and connection.stock_sync_enabled and not connection.paused:
        # Stock update back on: push the current quantities.
        await stock_service.resume_pushes(session, connection.id)
    if connection.refuse_out_of_stock_after_hours != refusal_delay:
        await out_of_stock.delay_changed(session, connection.id)
    rules_after = PublishingRules.of(connection)
    if rules_after != rules_before:
        await stock_service.rules_changed(session, connection.id, rules_before, rules_after)
    await session.flush()
    return connection


def _apply_settings(connection: Connection, body: ConnectionUpdate) -> None:
    """The merchant's settings the body gives; null clears the cap and the refusal delay."""
    given = body.model_fields_set
    if body.name is not None:
        connection.name = body.name
    if body.stock_sync_enabled is not None:
        connection.stock_sync_enabled = body.stock_sync_enabled
    if body.paused is not None:
        connection.paused = body.paused
    if body.stock_buffer is not None:
        connection.stock_buffer = body.stock_buffer
    if "stock_max" in given:
        connection.stock_max = body.stock_max
    if "refuse_out_of_stock_after_hours" in given:
        connection.refuse_out_of_stock_after_hours = body.refuse_out_of_stock_after_hours


async def disconnect(session: AsyncSession, connection: Connection) -> None:
    """Stop everything, erase the secrets, keep the history; the seller may be connected again."""
    if connection.is_live:
        connection.state = ConnectionState.DISCONNECTED.value
        connection.state_reason = "Disconnected by the merchant."
        connection.disconnected_at = utcnow()
    connection.rakuten_token_enc = None
    connection.cubyn_api_key_enc = None
    connection.webhook_secret_enc = connection.previous_webhook_secret_enc = None
    await session.flush()


async def replace_webhook_secret(
    session: AsyncSession, connection: Connection, read: str | None, secret_enc: str, previous_until: datetime
) -> bool:
    """Make `secret_enc` the connection's webhook secret and `read` (the ciphertext the caller read) the
    previous one, valid until `previous_until`; whether it was written, then `connection` is read again.

    One conditional UPDATE: nothing is written if the connection was disconnected or its secret changed
    since `read` (another rotation, a key rotation re-encrypting it), so two rotations never both win."""
    written = await session.execute(
        update_rows(Connection)
        .where(
            Connection.id == connection.id,
            Connection.state != ConnectionState.DISCONNECTED.value,
            Connection.webhook_secret_enc.is_(None) if read is None else Connection.webhook_secret_enc == read,
        )
        .values(
            webhook_secret_enc=secret_enc,
            previous_webhook_secret_enc=read,
            previous_webhook_secret_expires_at=previous_until if read is not None else None,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(connection)
    return getattr(written, "rowcount", 0) == 1


# What the merchant reads when an upstream refuses the connection's credentials (on the connection, its
# last import and any stock sync that stopped for it).
REFUSED_BY = {
    "rakuten": "Rakuten refused the seller ID and token: generate a new token in Rakuten and update the connection.",
    "cubyn": "Cubyn refused the application key: update the connection with a valid key.",
}


async def credentials_refused(session: AsyncSession, connection: Connection, upstream: Upstream) -> str:
    """Rakuten or Cubyn refused the connection's credentials: nothing calls either for it until the merchant
    gives working ones (a PATCH checked live). Commits; returns the reason shown to the merchant."""
    reason = REFUSED_BY[upstream]
    connection.state = ConnectionState.CREDENTIALS_INVALID.value
    connection.state_reason = reason
    connection.last_import_error = reason
    await session.commit()
    return reason
