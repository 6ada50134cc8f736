"""The connection routes: connect, list, read, update, disconnect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from rakuten_connector.connections import service
from rakuten_connector.connections.models import Connection
from rakuten_connector.connections.schemas import (
    ConnectionCreate,
    ConnectionCreated,
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
from rakuten_connector.kit.errors import NOT_FOUND, error_responses
from rakuten_connector.kit.rate_limits import RATE_LIMITED_RESPONSE
from rakuten_connector.orders import service as orders
from rakuten_connector.settings import Settings

router = APIRouter(prefix="/v1/connections", tags=["connections"])


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
    responses={
        **error_responses(
            {
                409: ("seller_already_connected", "A live connection already has this seller ID."),
                422: ("rakuten_credentials_invalid", "Rakuten (or Cubyn: `cubyn_credentials_invalid`) refused."),
                503: ("rakuten_unavailable", "Rakuten or Cubyn did not answer; nothing was saved."),
            }
        ),
        **RATE_LIMITED_RESPONSE,
    },
)
async def create_connection(
    body: ConnectionCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    checker: CheckerDep,
    box: SecretBoxDep,
) -> ConnectionCreated:
    created = await service.create(session, principal, body, checker, box)
    await session.commit()
    out = await _one(session, created.connection, settings)
    webhook = WebhookEndpoint(url=out.webhook_url, secret=created.webhook_secret)
    return ConnectionCreated(**out.model_dump(), webhook=webhook)


@router.get("")
async def list_connections(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    merchant_id: Annotated[str | None, Query(max_length=128, description="Operators only.")] = None,
) -> ConnectionList:
    connections = await service.list_visible(session, principal, merchant_id)
    counts = await orders.counts_by_state(session, [c.id for c in connections])
    return ConnectionList(items=[to_out(c, settings, counts[c.id]) for c in connections])


@router.get("/{connection_id}", responses=error_responses(NOT_FOUND))
async def get_connection(
    connection_id: str, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> ConnectionOut:
    connection = await service.get_visible(session, principal, connection_id)
    return await _one(session, connection, settings)


@router.patch(
    "/{connection_id}",
    responses={
        **error_responses(
            {
                **NOT_FOUND,
                409: ("connection_disconnected", "The connection is disconnected."),
                422: ("rakuten_credentials_invalid", "Rakuten (or Cubyn) refused the new credentials."),
                503: ("rakuten_unavailable", "Rakuten or Cubyn did not answer; nothing was changed."),
            }
        ),
        **RATE_LIMITED_RESPONSE,
    },
)
async def update_connection(
    connection_id: str,
    body: ConnectionUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    checker: CheckerDep,
    box: SecretBoxDep,
    request: Request,
) -> ConnectionOut:
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
    responses=error_responses(NOT_FOUND),
)
async def delete_connection(connection_id: str, principal: CurrentPrincipal, session: SessionDep) -> Response:
    connection = await service.get_visible(session, principal, connection_id)
    await service.disconnect(session, connection)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
