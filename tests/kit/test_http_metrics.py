"""`kit/http_metrics.py`: every answer counted by route template and status, crashes included."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.kit.http_metrics import HttpMetrics


def _metered(app: Starlette) -> tuple[HttpMetrics, CollectorRegistry]:
    registry = CollectorRegistry()
    requests = Counter("t_requests_total", "requests", ["method", "route", "status"], registry=registry)
    latency = Histogram("t_duration_seconds", "duration", ["method", "route", "status"], registry=registry)
    return HttpMetrics(app, requests=requests, latency=latency), registry


def _count(registry: CollectorRegistry, route: str, status: str) -> float:
    value = registry.get_sample_value("t_requests_total", {"method": "GET", "route": route, "status": status})
    return value or 0.0


async def test_answers_are_counted_by_route_template_and_status_including_crashes() -> None:
    async def item(request: Request) -> Response:
        return JSONResponse({"id": request.path_params["item_id"]})

    async def crash(request: Request) -> Response:
        raise RuntimeError("boom")

    app = Starlette(routes=[Route("/items/{item_id}", item), Route("/crash", crash)])
    metered, registry = _metered(app)
    transport = httpx.ASGITransport(app=metered, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/items/1")).status_code == 200
        assert (await client.get("/items/2")).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.get("/crash")).status_code == 500
    assert _count(registry, "/items/{item_id}", "200") == 2
    assert _count(registry, "unmatched", "404") == 1
    assert _count(registry, "/crash", "500") == 1
