"""Why stock is not pushed for a connection, in the words the merchant reads."""

from __future__ import annotations

import pytest

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.connections.service import REFUSED_BY
from rakuten_connector.connections.usable import CREDENTIALS_REFUSED
from rakuten_connector.stock.scheduling import can_push, why_not_pushing


def _connection(**fields: object) -> Connection:
    values: dict[str, object] = {
        "state": ConnectionState.ACTIVE.value,
        "paused": False,
        "stock_sync_enabled": True,
    }
    return Connection(**(values | fields))


@pytest.mark.parametrize("upstream", ["rakuten", "cubyn"])
def test_refused_credentials_are_said_as_the_connection_says_them(upstream: str) -> None:
    refused = _connection(state=ConnectionState.CREDENTIALS_INVALID.value, state_reason=REFUSED_BY[upstream])
    assert not can_push(refused)
    assert why_not_pushing(refused) == REFUSED_BY[upstream]


def test_refused_credentials_without_a_reason_are_said_as_the_connection_answers_work() -> None:
    refused = _connection(state=ConnectionState.CREDENTIALS_INVALID.value)
    assert why_not_pushing(refused) == CREDENTIALS_REFUSED


def test_the_other_reasons_stay_the_stocks_own() -> None:
    assert why_not_pushing(None) == "The connection was disconnected."
    assert (
        why_not_pushing(_connection(state=ConnectionState.DISCONNECTED.value))
        == "The connection was disconnected."
    )
    assert (
        why_not_pushing(_connection(stock_sync_enabled=False)) == "Stock update is turned off for this connection."
    )
    assert why_not_pushing(_connection(paused=True)) == "The connection is paused."
