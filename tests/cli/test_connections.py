"""`connections list|show`: every merchant's connections as the API shows them to an operator, filtered by
status; an unknown id is a message and exit code 1; no secret is ever printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from rakuten_connector.connections.models import ConnectionState
from rakuten_connector.orders.models import OrderState
from tests.cli.conftest import MISSING, Cli, Rows

pytestmark = pytest.mark.usefixtures("sessions")


async def test_list_shows_every_merchants_connections_with_their_orders(cli: Cli, rows: Rows) -> None:
    a = await rows.connection(name="Boutique A")
    b = await rows.connection(merchant_id="merchant-b", name="Boutique B", paused=True)
    await rows.order(a, "1", OrderState.FAILED)
    await rows.order(a, "2", OrderState.SHIPPED)

    answer = await cli.json("connections", "list")
    by_id = {c["id"]: c for c in answer["items"]}
    assert set(by_id) == {a, b}
    assert (by_id[a]["merchant_id"], by_id[a]["status"], by_id[b]["status"]) == ("merchant-a", "active", "paused")
    assert (by_id[a]["orders"]["failed"], by_id[a]["orders"]["shipped"], by_id[b]["orders"]["failed"]) == (1, 1, 0)
    assert by_id[a]["webhook_url"].endswith(f"/v1/webhooks/cubyn/{a}")

    table = await cli("connections", "list")
    assert table.exit_code == 0, table.output
    assert a in table.stdout
    assert "Boutique B" in table.stdout
    for secret in rows.secrets:
        assert secret not in table.output
        assert secret not in str(answer)


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", ["a"]), ("paused", ["p"]), ("credentials_invalid", ["c"]), ("disconnected", ["d"])],
)
async def test_list_filters_by_status(cli: Cli, rows: Rows, status: str, expected: list[str]) -> None:
    ids = {
        "a": await rows.connection(),
        "p": await rows.connection(paused=True),
        "c": await rows.connection(state=ConnectionState.CREDENTIALS_INVALID.value),
        "d": await rows.connection(state=ConnectionState.DISCONNECTED.value),
    }
    answer = await cli.json("connections", "list", "--status", status)
    assert [c["id"] for c in answer["items"]] == [ids[name] for name in expected]


async def test_list_filters_by_merchant(cli: Cli, rows: Rows) -> None:
    await rows.connection()
    b = await rows.connection(merchant_id="merchant-b")
    answer = await cli.json("connections", "list", "--merchant", "merchant-b")
    assert [c["id"] for c in answer["items"]] == [b]


async def test_an_unknown_status_is_refused(cli: Cli) -> None:
    result = await cli("connections", "list", "--status", "sleeping")
    assert result.exit_code == 2
    assert "sleeping" in result.output


async def test_show_gives_one_connection_with_its_order_counts(cli: Cli, rows: Rows) -> None:
    connection_id = await rows.connection(name="Ma boutique [FR]", stock_buffer=2, last_import_error="quota")
    await rows.order(connection_id, "1", OrderState.NEEDS_ATTENTION)

    answer = await cli.json("connections", "show", connection_id)
    assert (answer["id"], answer["name"], answer["stock_buffer"]) == (connection_id, "Ma boutique [FR]", 2)
    assert answer["orders"]["needs_attention"] == 1
    assert "token" not in answer
    assert "cubyn_api_key" not in answer

    shown = await cli("connections", "show", connection_id)
    assert shown.exit_code == 0, shown.output
    # Text from the database is shown as it is, never read as markup.
    assert "Ma boutique [FR]" in shown.stdout
    assert "quota" in shown.stdout
    assert "needs_attention" in shown.stdout
    for secret in rows.secrets:
        assert secret not in shown.output


@pytest.mark.parametrize("connection_id", [MISSING, "not-a-uuid"])
async def test_show_of_an_unknown_connection_says_so(cli: Cli, connection_id: str) -> None:
    result = await cli("connections", "show", connection_id)
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: connection not found"
    assert "Traceback" not in result.output

    answer = await cli.json("connections", "show", connection_id, code=1)
    assert answer["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite:////nonexistent/folder/x.db", "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"],
    ids=["sqlite", "postgresql"],
)
async def test_a_database_that_does_not_answer_is_a_message(cli: Cli, url: str) -> None:
    result = await cli("connections", "list", env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the database failed (")
    assert "`rakuten-connector config check` says more" in result.stderr
    assert "Traceback" not in result.output
    answer = await cli.json("connections", "list", env={"DATABASE_URL": url}, code=1)
    assert answer["error"]["code"] == "database_unavailable"


async def test_a_database_not_migrated_is_a_message(cli: Cli, tmp_path: Path) -> None:
    result = await cli(
        "connections", "show", MISSING, env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    )
    assert result.exit_code == 1
    assert "migrated?" in result.stderr
    assert "SELECT" not in result.output
