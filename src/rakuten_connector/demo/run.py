"""`rakuten-connector demo`: the whole system on this machine, in one event loop.

Both sandboxes, the API and an arq worker run side by side (as in `tests/e2e/world.py`); a demo merchant
connects a fresh Rakuten sandbox shop through the real API, Cubyn is seeded with stock (one SKU out of
stock), the Rakuten sandbox with a realistic mix of sales (some the connector must skip) and new sales keep
arriving (`shop.py`). A live view in the terminal reads the database every second (`view.py`). Ctrl-C (or
SIGTERM) stops every part in order: sales, worker, API, sandboxes, then the private `redis-server` when one
was started (`private_redis.py`).
"""

from __future__ import annotations

import asyncio
import random
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
from rich.console import Console
from starlette.types import ASGIApp

from rakuten_connector.demo.private_redis import redis_for_demo
from rakuten_connector.demo.shop import MERCHANT_ID, DemoError, DemoShop, generate_sales, set_up_shop
from rakuten_connector.demo.view import DemoView
from rakuten_connector.kit.auth import Role
from rakuten_connector.main import create_app
from rakuten_connector.migrate import upgrade
from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
from rakuten_connector.sandbox.serve import free_port, serve
from rakuten_connector.settings import Settings
from rakuten_connector.tokens import issue_token_for
from rakuten_connector.worker import running_in_background

# A person should see an order go imported -> accepted -> shipped within a minute or two.
DEMO_DELAYS = LifecycleDelays(validate=3.0, pick=4.0, pack=3.0, ship=5.0)


@dataclass
class DemoOptions:
    port: int = 8000
    sales: int = 24
    import_interval_seconds: int = 30
    new_sales_every_seconds: float = 25.0  # 0: no new sales after the first batch
    delays: LifecycleDelays = field(default_factory=lambda: DEMO_DELAYS)
    refresh_seconds: float = 1.0
    seed: int | None = None


# -- servers ----------------------------------------------------------------------------------------------


@asynccontextmanager
async def _serve(app: ASGIApp, port: int) -> AsyncIterator[str]:
    """`serve`, embedded: the demo owns Ctrl-C and the log file."""
    async with AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(serve(app, port=port, embedded=True))
        except Exception as exc:
            raise DemoError(f"the server on port {port} stopped before it started") from exc
        yield url


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# -- new sales --------------------------------------------------------------------------------------------


async def keep_selling(
    rakuten: httpx.AsyncClient, shop: DemoShop, view: DemoView, every: float, rng: random.Random
) -> None:
    """A few new sales every `every` seconds or so, so there is always something moving."""
    while True:
        wait = rng.uniform(0.7 * every, 1.3 * every)
        view.next_sales_at = asyncio.get_running_loop().time() + wait
        await asyncio.sleep(wait)
        try:
            shop.sales_created += await generate_sales(rakuten, shop.login, rng.randint(1, 4), rng)
        except (httpx.HTTPError, DemoError):
            continue  # the sandbox is going away: the demo is stopping


# -- the whole ---------------------------------------------------------------------------------------------


def demo_settings(
    base: Settings, *, redis_url: str, rakuten_url: str, cubyn_url: str, port: int, interval: int
) -> Settings:
    return base.model_copy(
        update={
            "redis_url": redis_url,
            "rakuten_base_url": rakuten_url,
            "cubyn_api_url": cubyn_url,
            "public_base_url": f"http://127.0.0.1:{port}",
            "import_interval_seconds": interval,
            "upstream_timeout_seconds": 10.0,
        }
    )


def console_url(shop: DemoShop) -> str:
    """The console, signed in with the demo merchant's token."""
    return f"{shop.api_url}/console#token={shop.token}"


def print_welcome(console: Console, shop: DemoShop, log_path: str | None) -> None:
    console.print(f"[bold]rakuten-connector demo[/bold]: API docs at [link]{shop.api_url}/docs[/link]")
    # The token rides in the fragment, which the browser never sends: the console keeps it in the tab only.
    console.print("Console (open it to watch the orders flow; signed in as the demo merchant):")
    console.print(f"  {console_url(shop)}", soft_wrap=True, highlight=False)
    console.print("Merchant token (demo-merchant, 12 h; paste it in /docs under Authorize):")
    console.print(shop.token, soft_wrap=True, highlight=False)
    console.print("Try:", style="bold")
    console.print(
        f'  curl -s -H "Authorization: Bearer {shop.token}" '
        f'"{shop.api_url}/v1/connections/{shop.connection_id}/orders?limit=5"',
        soft_wrap=True,
        highlight=False,
    )
    if log_path:
        console.print(f"Logs: {log_path}   Ctrl-C stops everything.")


async def run_demo(
    settings: Settings,
    options: DemoOptions,
    stop: asyncio.Event,
    *,
    console: Console,
    log_path: str | None = None,
    live: bool = True,
    on_ready: asyncio.Future[DemoShop] | None = None,
) -> DemoShop:
    """Run until `stop` is set, then stop every part cleanly; raises DemoError for a problem to fix."""
    async with AsyncExitStack() as stack:
        redis_url = await stack.enter_async_context(redis_for_demo(settings.redis_url))
        await asyncio.to_thread(upgrade, settings.database_url)
        port = options.port if options.port and port_is_free(options.port) else free_port()
        if options.port and port != options.port:
            console.print(f"Port {options.port} is busy: the API listens on {port} instead.")
        rakuten_url = await stack.enter_async_context(
            _serve(create_rakuten_sandbox(seed=options.seed or 0), free_port())
        )
        cubyn_url = await stack.enter_async_context(
            _serve(create_cubyn_sandbox(delays=options.delays, seed=options.seed), free_port())
        )
        demo = demo_settings(
            settings,
            redis_url=redis_url,
            rakuten_url=rakuten_url,
            cubyn_url=cubyn_url,
            port=port,
            interval=options.import_interval_seconds,
        )
        api_url = await stack.enter_async_context(_serve(create_app(demo), port))
        await stack.enter_async_context(running_in_background(demo))
        api = await stack.enter_async_context(httpx.AsyncClient(base_url=api_url, timeout=30))
        rakuten = await stack.enter_async_context(httpx.AsyncClient(base_url=rakuten_url, timeout=30))
        cubyn = await stack.enter_async_context(httpx.AsyncClient(base_url=cubyn_url, timeout=30))
        token = issue_token_for(demo, MERCHANT_ID, Role.MERCHANT, timedelta(hours=12))
        shop = await set_up_shop(api, rakuten, cubyn, token, sales=options.sales, seed=options.seed)
        print_welcome(console, shop, log_path)
        view = await stack.enter_async_context(DemoView.open(demo, shop, console, live=live))
        if on_ready is not None and not on_ready.done():
            on_ready.set_result(shop)
        tasks = [asyncio.create_task(view.run(options.refresh_seconds))]
        if options.new_sales_every_seconds > 0:
            rng = random.Random(options.seed)
            tasks.append(
                asyncio.create_task(keep_selling(rakuten, shop, view, options.new_sales_every_seconds, rng))
            )
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            console.print("Stopping: worker, API, sandboxes...")
        return shop


async def main(settings: Settings, options: DemoOptions, *, console: Console, log_path: str | None) -> int:
    """The `demo` command: 0 once stopped by Ctrl-C or SIGTERM, 1 with one sentence when it cannot run."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        shop = await run_demo(settings, options, stop, console=console, log_path=log_path)
    except DemoError as exc:
        console.print(str(exc), style="red", highlight=False, soft_wrap=True)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    console.print(
        f"Stopped cleanly. The shop {shop.login} stays in the database (connection {shop.connection_id})."
    )
    return 0
