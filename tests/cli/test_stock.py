"""`stock sync`: asked as the route asks it, then followed phase by phase until it ends: exit code 0 when
it succeeded, 1 when it failed, 3 when --timeout ran out; --no-wait only queues it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.settings import Settings
from rakuten_connector.stock.models import StockSync
from tests.cli.conftest import MISSING, Cli, Rows, environment, queued_jobs
from tests.e2e.world import world
from tests.stock.helpers import connect, rakuten_stock, set_rakuten_inventory, stock_settings
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("sessions")


async def test_a_sync_is_followed_until_it_succeeded(settings: Settings) -> None:
    async with world(stock_settings(settings)) as w:
        await set_rakuten_inventory(w, {"A": 1, "B": 5, "C": 7})
        connection_id, _ = await connect(w, cubyn_products={"A": 1, "B": 9, "D": 4})
        cli = Cli(environment(w.settings))

        result = await cli.json("stock", "sync", connection_id, "--every", "0.2")
        assert result["status"] == "succeeded", result
        assert result["progress"] == {
            "rakuten_skus": 3,
            "cubyn_skus": 3,
            "compared": 2,
            "to_update": 1,
            "updated": 1,
        }
        assert (result["only_on_rakuten"], result["only_on_cubyn"]) == (["C"], ["D"])
        assert await rakuten_stock(w) == {"A": 1, "B": 9, "C": 7}

        # The next one, shown to a person.
        shown = await cli("stock", "sync", connection_id, "--every", "0.2")
        assert shown.exit_code == 0, shown.output
        assert "succeeded" in shown.stdout
        assert "1: C" in shown.stdout
        assert "1: D" in shown.stdout


async def _play_the_worker(sessions: async_sessionmaker[AsyncSession], connection_id: str) -> None:
    """Move the sync through its phases as a worker would, then fail it."""

    async def sync_id() -> str | None:
        async with sessions() as session:
            return await session.scalar(select(StockSync.id).where(StockSync.connection_id == connection_id))

    await wait_until(sync_id, what="the sync to be asked")
    steps = [
        {"status": "running", "phase": "reading_rakuten", "rakuten_skus": 40},
        {"phase": "reading_cubyn", "cubyn_skus": 30},
        {"phase": "pushing", "to_update": 4, "updated": 2},
        {"status": "failed", "error": "Rakuten refused the seller ID and token [code 7]."},
    ]
    for values in steps:
        await asyncio.sleep(0.3)
        async with sessions() as session:
            await session.execute(
                update(StockSync).where(StockSync.connection_id == connection_id).values(**values)
            )
            await session.commit()


async def test_a_sync_that_fails_exits_with_1_and_its_reason(
    cli: Cli, rows: Rows, sessions: async_sessionmaker[AsyncSession]
) -> None:
    shop = await rows.connection()
    following = asyncio.create_task(cli("stock", "sync", shop, "--every", "0.1"))
    await _play_the_worker(sessions, shop)
    result = await following
    assert result.exit_code == 1, result.output
    assert (
        result.stderr.strip() == "Error: the stock sync failed: Rakuten refused the seller ID and token [code 7]."
    )
    assert "2 of 4" in result.stdout

    second = await rows.connection()
    following = asyncio.create_task(cli.json("stock", "sync", second, "--every", "0.1", code=1))
    await _play_the_worker(sessions, second)
    answer = await following
    assert (answer["status"], answer["progress"]["updated"]) == ("failed", 2)


async def test_no_wait_only_queues_it(cli: Cli, rows: Rows, settings: Settings) -> None:
    shop = await rows.connection()
    answer = await cli.json("stock", "sync", shop, "--no-wait")
    assert answer["status"] == "queued"
    assert await queued_jobs(settings.redis_url, f"stock-sync:{answer['id']}:") == [
        ("stock_sync_run", (answer["id"],))
    ]
    # A queued sync counts as running.
    again = await cli("stock", "sync", shop, "--no-wait")
    assert again.exit_code == 1
    assert again.stderr.strip() == "Error: A stock sync is already queued or running for this connection."


async def test_with_no_worker_the_timeout_ends_the_wait(cli: Cli, rows: Rows) -> None:
    shop = await rows.connection()
    result = await cli("stock", "sync", shop, "--every", "0.2", "--timeout", "1")
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == "Error: the stock sync is still queued: it goes on in the workers"


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"stock_sync_enabled": False}, "stock_sync_disabled"), ({"paused": True}, "connection_paused")],
)
async def test_a_connection_that_cannot_sync_is_refused(
    cli: Cli, rows: Rows, fields: dict[str, object], code: str
) -> None:
    shop = await rows.connection(**fields)
    assert (await cli.json("stock", "sync", shop, code=1))["error"]["code"] == code
    result = await cli("stock", "sync", shop)
    assert result.exit_code == 1
    assert "Traceback" not in result.output


async def test_an_unknown_connection_says_so(cli: Cli) -> None:
    result = await cli("stock", "sync", MISSING)
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: connection not found")
