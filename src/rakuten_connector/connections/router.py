"""The connection routes: connect, list, read, update, disconnect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from rakuten_connector.connections import service
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.schemas import (
    ConnectionCreate,
    ConnectionCreated,
    ConnectionIdParam,
    ConnectionList,
    ConnectionOut,
    ConnectionUpdate,
    WebhookEndpoint,
)
from rakuten_connector.deps import (
    CheckerDep,
    CurrentPrincipal,
    SecretBoxDep,
    SessionDep,
    SettingsDep,
    limit_connect,
    limit_connect_when,
)
from rakuten_connector.kit.errors import (
    BODY_ERRORS,
    CONNECTION_DISCONNECTED,
    DATABASE_UNAVAILABLE,
    NOT_FOUND,
    UNAUTHORIZED,
    VALIDATION_ERROR,
    ErrorAnswer,
    error_responses,
)
from rakuten_connector.kit.rate_limits import RATE_LIMITED
from rakuten_connector.orders import service as orders
from rakuten_connector.settings import Settings

router = APIRouter(prefix="/v1/connections", tags=["connections"])

# Checking new credentials calls Rakuten and Cubyn: either may refuse them or not answer.
_UPSTREAM_UNAVAILABLE = ErrorAnswer(
    "rakuten_unavailable",
    "Rakuten (or Cubyn: `cubyn_unavailable`) did not answer, or Rakuten's hourly quota is used up; nothing "
    "was saved.",
    headers={"Retry-After": {"description": "Seconds to wait (Rakuten's quota).", "schema": {"type": "integer"}}},
)


def to_out(connection: Connection, settings: Settings, orders: dict[str, int]) -> ConnectionOut:
    return ConnectionOut(
        id=connection.id,
        merchant_id=connection.merchant_id,
        name=connection.name,
        seller_id=connection.seller_id,
        stock_sync_enabled=connection.stock_sync_enabled,
        stock_buffer=connection.stock_buffer,
        stock_max=connection.stock_max,
        refuse_out_of_stock_after_hours=connection.refuse_out_of_stock_after_hours,
        paused=connection.paused,
        status=connection.status,
        status_reason=connection.state_reason,
        created_at=connection.created_at,
        last_import_at=connection.last_import_at,
        last_import_error=connection.last_import_error,
        orders=orders,
        webhook_url=settings.webhook_url(connection.id),
    )


async def _one(session: SessionDep, connection: Connection, settings: Settings) -> ConnectionOut:
    counts = await orders.counts_by_state(session, [connection.id])
    return to_out(connection, settings, counts[connection.id])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_connect)],
    operation_id="connections.create",
    summary="Connect a Rakuten shop to Cubyn",
    response_description="The new connection, with its webhook URL and secret (shown this once).",
    responses=error_responses(
        UNAUTHORIZED,
        BODY_ERRORS,
        {403: ("forbidden", "A merchant can only create its own connections (`merchant_id` is another's).")},
        {409: ("seller_already_connected", "A live connection already has this seller ID.")},
        VALIDATION_ERROR,
        {422: ("rakuten_credentials_invalid", "Rakuten (or Cubyn: `cubyn_credentials_invalid`) refused.")},
        RATE_LIMITED,
        {503: _UPSTREAM_UNAVAILABLE},
        DATABASE_UNAVAILABLE,
    ),
)
async def create_connection(
    body: ConnectionCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    checker: CheckerDep,
    box: SecretBoxDep,
) -> ConnectionCreated:
    """Checks the Rakuten seller ID and token, then the Cubyn key, live; nothing is stored unless both are
    accepted. The answer carries the webhook URL to register in Cubyn and its signing secret, shown only
    here. The first import starts at once and takes every sale waiting on Rakuten. An operator names the
    merchant (`merchant_id`); a merchant's connection is its own."""
    created = await service.create(session, principal, body, checker, box)
    await session.commit()
    out = await _one(session, created.connection, settings)
    webhook = WebhookEndpoint(url=out.webhook_url, secret=created.webhook_secret)
    return ConnectionCreated(**out.model_dump(), webhook=webhook)


@router.get(
    "",
    operation_id="connections.list",
    summary="List connections",
    responses=error_responses(UNAUTHORIZED, DATABASE_UNAVAILABLE),
)
async def list_connections(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    merchant_id: Annotated[
        str | None,
        Query(
            max_length=128,
            description="Operators only: only this merchant's connections (ignored for a merchant).",
        ),
    ] = None,
) -> ConnectionList:
    """A merchant sees its own connections, an operator every connection (or one merchant's), newest first,
    each with its order counts per state. Disconnected connections are listed too."""
    connections = await service.list_visible(session, principal, merchant_id)
    counts = await orders.counts_by_state(session, [c.id for c in connections])
    return ConnectionList(items=[to_out(c, settings, counts[c.id]) for c in connections])


@router.get(
    "/{connection_id}",
    operation_id="connections.get",
    summary="Read a connection",
    responses=error_responses(UNAUTHORIZED, NOT_FOUND, DATABASE_UNAVAILABLE),
)
async def get_connection(
    connection_id: ConnectionIdParam, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> ConnectionOut:
    """Its settings, status (and why it is not active), last import and order counts per state. Secrets
    are never returned."""
    connection = await service.get_visible(session, principal, connection_id)
    return await _one(session, connection, settings)


@router.patch(
    "/{connection_id}",
    operation_id="connections.update",
    summary="Change a connection",
    responses=error_responses(
        UNAUTHORIZED,
        BODY_ERRORS,
        NOT_FOUND,
        CONNECTION_DISCONNECTED,
        VALIDATION_ERROR,
        {422: ("rakuten_credentials_invalid", "Rakuten (or Cubyn) refused the new credentials.")},
        RATE_LIMITED,
        {503: _UPSTREAM_UNAVAILABLE},
        DATABASE_UNAVAILABLE,
    ),
)
async def update_connection(
    connection_id: ConnectionIdParam,
    body: ConnectionUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    checker: CheckerDep,
    box: SecretBoxDep,
    request: Request,
) -> ConnectionOut:
    """Fields left out stay as they are. New credentials (`token`, `cubyn_api_key`) are checked live first
    and count against the connect rate limit; accepted, they bring a connection whose credentials were
    refused back to active. `paused: true` stops imports and stock pushes until `paused: false`."""
    await limit_connect_when(
        body.token is not None or body.cubyn_api_key is not None, request, principal, settings
    )
    connection = await service.get_visible(session, principal, connection_id)
    await service.update(session, connection, body, checker, box)
    await session.commit()
    return await _one(session, connection, settings)


@router.delete(
    "/{connection_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="connections.disconnect",
    summary="Disconnect a connection",
    response_description="Disconnected (also when it already was).",
    responses=error_responses(UNAUTHORIZED, NOT_FOUND, DATABASE_UNAVAILABLE),
)
async def delete_connection(
    connection_id: ConnectionIdParam, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Stops everything for the shop: no import, stock push or Rakuten action any more, and its webhooks
    answer 410. The connection and its orders stay readable; the seller may then be connected again."""
    connection = await service.get_visible(session, principal, connection_id)
    await service.disconnect(session, connection)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
