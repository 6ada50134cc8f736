"""What answers `/metrics`: a route of the API, or Prometheus' own server in a thread on `METRICS_PORT`
(the worker's, and the API's when it has a port of its own)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import prometheus_client
from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

# Registers the scrape-time gauges with the registry every endpoint serves.
from rakuten_connector.metrics import state as _state  # noqa: F401


async def metrics_response() -> Response:
    """The registry, generated off the event loop: the state gauges are read on it (`state`)."""
    return Response(await asyncio.to_thread(generate_latest, REGISTRY), media_type=CONTENT_TYPE_LATEST)


def serve_metrics(host: str, port: int) -> Callable[[], None]:
    """Prometheus' own server, in a thread, on `host:port`; returns what stops it."""
    server, thread = prometheus_client.start_http_server(port, addr=host)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(10)

    return stop
