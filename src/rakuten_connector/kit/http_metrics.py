"""Count and time every HTTP answer, as a plain ASGI middleware.

Plain ASGI rather than Starlette's `BaseHTTPMiddleware`, which runs the rest of the app in a task group
with memory streams per request (a cost on the webhook hot path) and records nothing when the app raises:
here a crash is counted as the 500 the client gets.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMetrics:
    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.latency.labels(method, route, str(status)).observe(time.perf_counter() - started)
            self.requests.labels(method, route, str(status)).inc()
