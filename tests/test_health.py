"""Liveness, readiness, metrics."""

from __future__ import annotations

import httpx

from rakuten_connector.main import create_app
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_when_database_and_redis_answer(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_readyz_is_503_when_redis_does_not_answer(settings: Settings) -> None:
    dead_redis = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    app = create_app(dead_redis)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            response = await http.get("/readyz")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "not_ready"
    assert error["details"]["database"] == "ok"
    assert error["details"]["redis"].startswith("error")


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'rakuten_connector_http_requests_total{method="GET",route="/healthz",status="200"}' in response.text
