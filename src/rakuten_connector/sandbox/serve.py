"""Serve an ASGI app with uvicorn inside the current event loop: the one way the sandboxes and the demo's
API are served (tests, demo, benchmarks)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from rakuten_connector.kit.keep_alive import SERVER_KEEP_ALIVE_SECONDS


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class _EmbeddedServer(uvicorn.Server):
    """Leaves the signal handlers to the program: several servers in one loop must not take Ctrl-C over."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@asynccontextmanager
async def serve(
    app: ASGIApp, host: str = "127.0.0.1", port: int | None = None, *, embedded: bool = False
) -> AsyncIterator[str]:
    """Run `app` on a real socket until the block ends; yields its base URL.

    `embedded`: for a program running several servers in its own loop (the demo): uvicorn keeps away from
    the program's logging setup (its records go wherever the program sends them) and signal handlers, and a
    server that fails while stopping does not stop the program.
    """
    port = port or free_port(host)
    logging: dict[str, Any] = {"log_config": None} if embedded else {"log_level": "warning"}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        **logging,
    )
    server = _EmbeddedServer(config) if embedded else uvicorn.Server(config)

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit as exc:  # uvicorn exits when it cannot bind: that must not stop the whole loop
            raise RuntimeError(f"the server on port {port} could not start (exit code {exc.code})") from None

    task = asyncio.create_task(run())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"the server on port {port} stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        if embedded:
            await asyncio.gather(task, return_exceptions=True)
        else:
            await task
