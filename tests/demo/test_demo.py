"""`rakuten-connector demo`, run briefly in-process on the test database and Redis db."""

from __future__ import annotations

import asyncio
import io

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.demo import private_redis, run
from rakuten_connector.demo.shop import MERCHANT_ID, DemoError, DemoShop
from rakuten_connector.orders.models import Order, OrderState
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings

QUICK = LifecycleDelays(validate=0.2, pick=0.2, pack=0.2, ship=0.2)


async def test_demo_connects_a_shop_imports_its_orders_and_stops_cleanly(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    output = io.StringIO()
    console = Console(file=output, width=140, force_terminal=False)
    options = run.DemoOptions(
        port=0, sales=8, new_sales_every_seconds=1.0, delays=QUICK, refresh_seconds=0.2, seed=5
    )
    stop = asyncio.Event()
    ready: asyncio.Future[DemoShop] = asyncio.get_running_loop().create_future()
    running = asyncio.create_task(run.run_demo(settings, options, stop, console=console, on_ready=ready))
    try:
        shop = await asyncio.wait_for(asyncio.shield(ready), 15)

        async def imported() -> list[Order]:
            async with sessions() as session:
                found = await session.scalars(
                    select(Order).where(
                        Order.connection_id == shop.connection_id, Order.state != OrderState.SKIPPED.value
                    )
                )
                return list(found.all())

        for _ in range(100):
            if await imported():
                break
            await asyncio.sleep(0.1)
        assert await imported(), "no order was imported"
    finally:
        stop.set()
        shop = await asyncio.wait_for(running, 60)
    async with sessions() as session:
        connection = await session.get_one(Connection, shop.connection_id)
    assert (connection.merchant_id, connection.seller_id) == (MERCHANT_ID, shop.login)
    text = output.getvalue()
    assert f"{shop.api_url}/docs" in text
    assert shop.token in text
    assert f"{shop.api_url}/console#token={shop.token}" in text
    assert "Latest events" in text  # the live view's last frame
    assert "Stopping" in text


async def test_a_private_redis_server_is_started_and_stopped_when_none_answers() -> None:
    if private_redis.shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    async with private_redis.redis_for_demo(unreachable) as url:
        assert url != unreachable
        assert await private_redis.redis_answers(url)
    assert not await private_redis.redis_answers(url)


async def test_without_redis_the_demo_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(private_redis.shutil, "which", lambda _: None)
    with pytest.raises(DemoError, match="install redis-server"):
        async with private_redis.redis_for_demo(f"redis://127.0.0.1:{free_port()}/0"):
            pass
