"""`orders list|show|retry` and `import`: the orders of every connection, one order with its timeline, the
bulk retry of the API over one connection or all, and the import now, each queued as the routes queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.settings import Settings
from tests.cli.conftest import MISSING, Cli, Rows, queued_jobs
from tests.orders.many_orders import queued_retries, retry_events

pytestmark = pytest.mark.usefixtures("sessions")


async def test_list_gives_one_states_orders_of_every_connection_newest_first(cli: Cli, rows: Rows) -> None:
    a, b = await rows.connection(), await rows.connection(merchant_id="merchant-b")
    await rows.order(a, "3", OrderState.FAILED, reason="Cubyn refused the address [zip]")
    await rows.order(b, "2", OrderState.FAILED)
    await rows.order(a, "1", OrderState.SHIPPED)

    page = await cli.json("orders", "list", "--state", "failed")
    assert [(o["connection_id"], o["purchase_id"]) for o in page["items"]] == [(b, "2"), (a, "3")]
    assert page["next_cursor"] is None
    assert page["items"][1]["items"][0]["sku"] == "SKU-1"

    only_a = await cli.json("orders", "list", "--state", "failed", "--connection", a)
    assert [o["purchase_id"] for o in only_a["items"]] == ["3"]

    table = await cli("orders", "list", "--state", "failed")
    assert table.exit_code == 0, table.output
    assert "Cubyn refused the address [zip]" in table.stdout


async def test_list_pages_with_the_cursor_it_gives(cli: Cli, rows: Rows) -> None:
    shop = await rows.connection()
    for n in range(1, 6):
        await rows.order(shop, str(n), OrderState.NEEDS_ATTENTION)
    first = await cli.json("orders", "list", "--state", "needs_attention", "--limit", "3")
    assert [o["purchase_id"] for o in first["items"]] == ["1", "2", "3"]
    rest = await cli.json("orders", "list", "--state", "needs_attention", "--cursor", first["next_cursor"])
    assert ([o["purchase_id"] for o in rest["items"]], rest["next_cursor"]) == (["4", "5"], None)

    table = await cli("orders", "list", "--state", "needs_attention", "--limit", "3")
    assert f"--cursor {first['next_cursor']}" in table.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--state", "failed", "--connection", MISSING], 1, "Error: connection not found"),
        (["--state", "failed", "--cursor", "bogus"], 1, "Error: The cursor is not one this API gave."),
        (["--state", "lost"], 2, "lost"),
        ([], 2, "--state"),
        (["--state", "failed", "--limit", "201"], 2, "--limit"),
    ],
)
async def test_list_refuses_what_it_cannot_answer(cli: Cli, args: list[str], code: int, message: str) -> None:
    result = await cli("orders", "list", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


async def test_show_gives_the_order_its_items_and_its_timeline(cli: Cli, rows: Rows) -> None:
    shop = await rows.connection()
    await rows.order(shop, "1042", OrderState.FAILED, reason="No stock at Cubyn.", last_error="409 [conflict]")

    detail = await cli.json("orders", "show", shop, "1042")
    assert (detail["purchase_id"], detail["state"], detail["last_error"]) == ("1042", "failed", "409 [conflict]")
    assert [(i["item_id"], i["status"]) for i in detail["items"]] == [("item-1042", "TO_CONFIRM")]
    assert [(e["kind"], e["message"]) for e in detail["events"]] == [("imported", "Parcel created at Cubyn.")]

    shown = await cli("orders", "show", shop, "1042")
    assert shown.exit_code == 0, shown.output
    for text in ("No stock at Cubyn.", "409 [conflict]", "item-1042", "Timeline", "Parcel created at Cubyn."):
        assert text in shown.stdout, text


@pytest.mark.parametrize(
    ("which", "message"), [("connection", "connection not found"), ("order", "order not found")]
)
async def test_show_of_an_unknown_order_or_connection_says_so(
    cli: Cli, rows: Rows, which: str, message: str
) -> None:
    shop = await rows.connection()
    await rows.order(shop, "1", OrderState.FAILED)
    args = [MISSING, "1"] if which == "connection" else [shop, "2"]
    result = await cli("orders", "show", *args)
    assert (result.exit_code, result.stderr.strip()) == (1, f"Error: {message}")
    answer = await cli.json("orders", "show", *args, code=1)
    assert answer == {"error": {"code": "not_found", "message": message, "details": None}}


async def test_retry_of_every_connection_queues_each_order_once(
    cli: Cli, rows: Rows, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    a, b = await rows.connection(), await rows.connection(merchant_id="merchant-b")
    gone = await rows.connection(state=ConnectionState.DISCONNECTED.value)
    failed = [await rows.order(a, "1", OrderState.FAILED), await rows.order(b, "2", OrderState.FAILED)]
    attention = await rows.order(a, "3", OrderState.NEEDS_ATTENTION)
    await rows.order(gone, "4", OrderState.FAILED)

    answer = await cli.json("orders", "retry", "--state", "failed")
    assert answer["queued"] == 2
    assert {c["connection_id"]: c["queued"] for c in answer["connections"]} == {a: 1, b: 1}
    assert await queued_retries(settings.redis_url) == dict.fromkeys(failed, 1)
    async with sessions() as session:
        for order_id in failed:
            order = await session.get_one(Order, order_id)
            # Written as the API's retry writes it: no parcel yet, so the parcel is created again.
            assert (order.state, order.next_check_at is not None) == (OrderState.IMPORTING.value, True)
    assert [await retry_events(sessions, order_id) for order_id in failed] == [1, 1]
    assert await retry_events(sessions, attention) == 0

    # Asked again: those orders already wait for their check.
    again = await cli("orders", "retry", "--state", "failed")
    assert again.exit_code == 0, again.output
    assert "0 order retries queued (failed)." in again.stdout


async def test_retry_of_one_connection(cli: Cli, rows: Rows, sessions: async_sessionmaker[AsyncSession]) -> None:
    a, b = await rows.connection(), await rows.connection()
    mine = await rows.order(a, "1", OrderState.NEEDS_ATTENTION, parcel_id="P-1")
    other = await rows.order(b, "2", OrderState.NEEDS_ATTENTION, parcel_id="P-2")
    result = await cli("orders", "retry", "--state", "needs_attention", "--connection", a)
    assert result.exit_code == 0, result.output
    assert "1 order retry queued (needs_attention)." in result.stdout
    assert (await retry_events(sessions, mine), await retry_events(sessions, other)) == (1, 0)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--state", "failed", "--connection", MISSING], 1, "connection not found"),
        (["--state", "shipped"], 2, "shipped"),
    ],
)
async def test_retry_refuses_what_it_cannot_do(cli: Cli, args: list[str], code: int, message: str) -> None:
    result = await cli("orders", "retry", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr


async def test_import_asks_the_import_now_as_the_route_does(
    cli: Cli, rows: Rows, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    shop = await rows.connection(name="Boutique", next_import_at=utcnow() + timedelta(minutes=4))
    before = utcnow()
    answer = await cli.json("import", shop)
    assert answer == {"connection_id": shop, "status": "accepted", "queued": True}
    assert await queued_jobs(settings.redis_url, "import-now:") == [("import_connection", (shop,))]
    async with sessions() as session:
        connection = await session.get_one(Connection, shop)
        # Due now: the scheduler starts it even if Redis lost the job.
        assert connection.next_import_at is not None
        assert connection.next_import_at >= before

    table = await cli("import", shop)
    assert table.stdout.strip() == f"Import of Boutique ({shop}) queued."


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"paused": True}, "connection_paused", "This connection is paused: resume it first."),
        (
            {"state": "disconnected"},
            "connection_disconnected",
            "This connection is disconnected; create a new one.",
        ),
    ],
)
async def test_import_of_a_connection_that_takes_no_work_is_refused(
    cli: Cli, rows: Rows, settings: Settings, fields: dict[str, object], code: str, message: str
) -> None:
    shop = await rows.connection(**fields)
    result = await cli("import", shop)
    assert (result.exit_code, result.stderr.strip()) == (1, f"Error: {message}")
    assert (await cli.json("import", shop, code=1))["error"]["code"] == code
    assert await queued_jobs(settings.redis_url, "import-now:") == []


async def test_import_of_an_unknown_connection_says_so(cli: Cli) -> None:
    result = await cli("import", MISSING)
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: connection not found")
