"""`rakuten-connector demo`: the whole system on this machine, in one event loop.

Both sandboxes, the API and an arq worker run side by side (as in `tests/e2e/world.py`); a demo merchant
connects a fresh Rakuten sandbox shop through the real API, Cubyn is seeded with stock (one SKU out of
stock), the Rakuten sandbox with a realistic mix of sales (some the connector must skip) and new sales keep
arriving. A live view in the terminal reads the database every second. Ctrl-C (or SIGTERM) stops every
part in order: sales, worker, API, sandboxes, then the private `redis-server` when one was started.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import signal
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import uvicorn
from redis.asyncio import Redis
from redis.exceptions import RedisError
from rich.console import Console
from starlette.types import ASGIApp

from rakuten_connector.kit.auth import Role, issue_token_for
from rakuten_connector.main import create_app
from rakuten_connector.migrate import upgrade
from rakuten_connector.sandbox.cubyn.app import create_cubyn_sandbox
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.demo_view import DemoView
from rakuten_connector.sandbox.rakuten.app import create_rakuten_sandbox
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings
from rakuten_connector.worker import running_in_background

MERCHANT_ID = "demo-merchant"
SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 13))
OUT_OF_STOCK_SKU = "SKU-0013"
STOCK_PER_SKU = 500
REDIS_MISSING = "Redis is needed: install redis-server (apt-get install redis-server) or set REDIS_URL."
# A person should see an order go imported -> accepted -> shipped within a minute or two.
DEMO_DELAYS = LifecycleDelays(validate=3.0, pick=4.0, pack=3.0, ship=5.0)


class DemoError(Exception):
    """Something the person running the demo can fix; the message says what."""


@dataclass
class DemoOptions:
    port: int = 8000
    sales: int = 24
    import_interval_seconds: int = 30
    new_sales_every_seconds: float = 25.0  # 0: no new sales after the first batch
    delays: LifecycleDelays = field(default_factory=lambda: DEMO_DELAYS)
    refresh_seconds: float = 1.0
    seed: int | None = None


@dataclass
class DemoShop:
    """What the demo set up: handy for the live view and for tests."""

    api_url: str
    token: str
    connection_id: str
    login: str
    rakuten_url: str
    cubyn_url: str
    sales_created: int = 0


# -- Redis ------------------------------------------------------------------------------------------------


async def redis_answers(url: str) -> bool:
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@asynccontextmanager
async def redis_for_demo(url: str) -> AsyncIterator[str]:
    """`url` when it answers; else a private `redis-server` on a free port, stopped on exit."""
    if await redis_answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise DemoError(REDIS_MISSING)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="rakuten-connector-redis-") as folder:
        # Its own session: Ctrl-C in the terminal must not stop Redis before the worker has let go of it.
        process = await asyncio.create_subprocess_exec(
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", folder, "--daemonize", "no"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        private_url = f"redis://127.0.0.1:{port}/0"
        try:
            for _ in range(100):
                if process.returncode is not None:
                    raise DemoError(
                        f"redis-server stopped at once (exit code {process.returncode}). {REDIS_MISSING}"
                    )
                if await redis_answers(private_url):
                    break
                await asyncio.sleep(0.05)
            else:
                raise DemoError(f"redis-server did not answer on port {port}. {REDIS_MISSING}")
            yield private_url
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 5)
                except TimeoutError:
                    process.kill()
                    await process.wait()


# -- servers ----------------------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """The demo handles Ctrl-C itself: several servers in one loop must not take over the signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def _serve(app: ASGIApp, port: int) -> AsyncIterator[str]:
    # log_config=None: uvicorn's records go to the demo's log file like every other one.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                raise DemoError(f"the server on port {port} stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# -- the shop ---------------------------------------------------------------------------------------------


def _ok(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.is_error:
        raise DemoError(f"{what} failed: HTTP {response.status_code} {response.text[:300]}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def generate_sales(rakuten: httpx.AsyncClient, login: str, count: int, rng: random.Random) -> int:
    """A realistic mix of sales on the sandbox: most import, some are skipped (unmapped shipping types,
    now and then an empty SKU or a negotiation) and a few ask for the SKU Cubyn has no stock of."""
    batches: list[dict[str, Any]] = [
        {"count": count, "skus": list(SKUS), "empty_sku_rate": 0.02, "nego_rate": 0.02}
    ]
    if rng.random() < 0.15:
        batches.append({"count": 1, "skus": [OUT_OF_STOCK_SKU], "shipping_types": ["Normal"], "multi_sku_rate": 0})
    created = 0
    for batch in batches:
        body = {"seed": rng.randrange(2**31), "max_age_hours": 0.5, **batch}
        answer = await rakuten.post(f"/_sandbox/sellers/{login}/sales/generate", json=body)
        created += len(_ok(answer, "generating sales")["sales"])
    return created


async def _first_sales(rakuten: httpx.AsyncClient, login: str, count: int, rng: random.Random) -> int:
    """The first batch always shows every case: skips of each kind and one order Cubyn cannot serve."""
    created = await generate_sales(rakuten, login, max(1, count - 4), rng)
    showcases: list[dict[str, Any]] = [
        {"shipping_types": ["So Colissimo"]},
        {"shipping_types": ["Suivi"], "empty_sku_rate": 1.0},
        {"shipping_types": ["Express"], "nego_rate": 1.0},
        {"shipping_types": ["Normal"], "skus": [OUT_OF_STOCK_SKU]},
    ]
    for showcase in showcases:
        body = {"count": 1, "seed": rng.randrange(2**31), "skus": list(SKUS), "multi_sku_rate": 0, **showcase}
        answer = await rakuten.post(f"/_sandbox/sellers/{login}/sales/generate", json=body)
        created += len(_ok(answer, "generating sales")["sales"])
    return created


async def set_up_shop(
    api: httpx.AsyncClient, rakuten: httpx.AsyncClient, cubyn: httpx.AsyncClient, token: str, options: DemoOptions
) -> DemoShop:
    """A fresh Rakuten login per run, so re-running on the same database works; earlier demo shops of the
    merchant are disconnected first (nothing would answer for them any more)."""
    rng = random.Random(options.seed)
    headers = {"Authorization": f"Bearer {token}"}
    for connection in _ok(await api.get("/v1/connections", headers=headers), "listing connections")["items"]:
        if connection["status"] != "disconnected":
            _ok(await api.delete(f"/v1/connections/{connection['id']}", headers=headers), "disconnecting")
    suffix = uuid.UUID(int=rng.getrandbits(128)).hex[:6] if options.seed is not None else uuid.uuid4().hex[:6]
    login, rakuten_token, cubyn_key = f"boutique-demo-{suffix}", uuid.uuid4().hex, f"cub-demo-{uuid.uuid4().hex}"
    _ok(await rakuten.post("/_sandbox/sellers", json={"login": login, "token": rakuten_token}), "Rakuten seller")
    adverts = [{"sku": sku, "stock": 20} for sku in (*SKUS, OUT_OF_STOCK_SKU)]
    _ok(await rakuten.put(f"/_sandbox/sellers/{login}/inventory", json={"adverts": adverts}), "Rakuten inventory")
    _ok(
        await cubyn.post("/_sandbox/applications", json={"merchant_id": MERCHANT_ID, "key": cubyn_key}),
        "Cubyn app",
    )
    products = [{"sku": sku, "available": STOCK_PER_SKU} for sku in SKUS] + [
        {"sku": OUT_OF_STOCK_SKU, "available": 0}
    ]
    _ok(await cubyn.put(f"/_sandbox/merchants/{MERCHANT_ID}/products", json={"products": products}), "Cubyn stock")
    created = await _first_sales(rakuten, login, options.sales, rng)
    body = {"name": "Boutique démo", "seller_id": login, "token": rakuten_token, "cubyn_api_key": cubyn_key}
    connection = _ok(await api.post("/v1/connections", json=body, headers=headers), "connecting the shop")
    webhook = {"url": connection["webhook"]["url"], "secret": connection["webhook"]["secret"]}
    _ok(await cubyn.put(f"/_sandbox/applications/{cubyn_key}/webhook", json=webhook), "Cubyn webhook")
    _ok(await api.post(f"/v1/connections/{connection['id']}/imports", headers=headers), "first import")
    return DemoShop(
        api_url=str(api.base_url).rstrip("/"),
        token=token,
        connection_id=connection["id"],
        login=login,
        rakuten_url=str(rakuten.base_url).rstrip("/"),
        cubyn_url=str(cubyn.base_url).rstrip("/"),
        sales_created=created,
    )


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


def print_welcome(console: Console, shop: DemoShop, log_path: str | None) -> None:
    console.print(f"[bold]rakuten-connector demo[/bold]: API docs at [link]{shop.api_url}/docs[/link]")
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
        await asyncio.to_thread(upgrade, settings.database_url, configure_logger=False)
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
        shop = await set_up_shop(api, rakuten, cubyn, token, options)
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
