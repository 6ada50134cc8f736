"""Whether a connection takes changes, and work the merchant asks for now (an import, a stock sync)."""

from __future__ import annotations

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.errors import ApiError

# What a connection whose credentials were refused answers the merchant's request for work, and what it
# says of them when the refusal wrote no reason on it.
CREDENTIALS_REFUSED = "Rakuten or Cubyn refused the credentials: update them first."


def must_be_live(connection: Connection) -> None:
    """409 for a disconnected connection: nothing of it changes any more (a new connection is the way)."""
    if connection.state == ConnectionState.DISCONNECTED:
        raise ApiError(409, "connection_disconnected", "This connection is disconnected; create a new one.")


def must_take_work(connection: Connection) -> None:
    """409 for a connection that is disconnected, whose credentials were refused, or that is paused."""
    must_be_live(connection)
    if connection.state == ConnectionState.CREDENTIALS_INVALID:
        raise ApiError(409, "connection_credentials_invalid", CREDENTIALS_REFUSED)
    if connection.paused:
        raise ApiError(409, "connection_paused", "This connection is paused: resume it first.")


def credentials_refused_reason(connection: Connection) -> str:
    """Why the connection's refused credentials stop its work, as the merchant reads it on the connection:
    the reason written when Rakuten or Cubyn refused them (`service.credentials_refused`), which names the
    one that did and what to do."""
    return connection.state_reason or CREDENTIALS_REFUSED
