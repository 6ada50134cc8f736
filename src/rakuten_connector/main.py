"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import Counter, Histogram
from redis.asyncio import Redis

from rakuten_connector import __version__
from rakuten_connector.carriers.router import router as carriers_router
from rakuten_connector.clients.shared_http import shared_client
from rakuten_connector.connections.router import router as connections_router
from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.health import metrics_router
from rakuten_connector.health import router as health_router
from rakuten_connector.kit.body_limit import BodySizeLimit
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.errors import install_error_handlers
from rakuten_connector.kit.http_metrics import HttpMetrics
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.kit.queue import JobQueue
from rakuten_connector.kit.rate_limits import RateLimiter
from rakuten_connector.kit.text_guard import unstorable_text
from rakuten_connector.orders.router import operator_router as operator_orders_router
from rakuten_connector.orders.router import router as orders_router
from rakuten_connector.settings import Settings, get_settings
from rakuten_connector.skus.router import router as sku_mappings_router
from rakuten_connector.stock.router import router as stock_router
from rakuten_connector.webhooks.intake import EventIntake
from rakuten_connector.webhooks.router import router as webhooks_router
from rakuten_connector.webhooks.router import serve_webhooks_first

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram("http_request_duration_seconds", "HTTP request duration", ["method", "route"])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessions = session_factory(engine)
        app.state.http = shared_client(timeout=settings.upstream_timeout_seconds)
        app.state.redis = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        app.state.queue = JobQueue(settings.redis_url)
        app.state.rate_limiter = RateLimiter(settings.redis_url)
        app.state.intake = EventIntake(engine, app.state.secret_box, app.state.queue)
        try:
            yield
        finally:
            await app.state.intake.close()
            await app.state.rate_limiter.close()
            await app.state.queue.close()
            await app.state.http.aclose()
            await app.state.redis.aclose()
            await engine.dispose()

    app = FastAPI(
        title="rakuten-connector",
        version=__version__,
        summary="Links a merchant's Rakuten France shop to Cubyn fulfilment.",
        lifespan=lifespan,
        # /docs, /redoc and /openapi.json only where the settings allow them (the document still exists).
        docs_url="/docs" if settings.docs_served else None,
        redoc_url="/redoc" if settings.docs_served else None,
        openapi_url="/openapi.json" if settings.docs_served else None,
    )
    app.state.settings = settings
    app.state.secret_box = SecretBox(settings.fernet_keys)
    install_error_handlers(app)

    app.add_middleware(BodySizeLimit, max_body_size=settings.max_body_bytes, inspect=unstorable_text)
    app.add_middleware(HttpMetrics, requests=REQUESTS, latency=LATENCY)  # outermost: counts the 413s too
    app.include_router(health_router)
    if settings.metrics_port is None:
        app.include_router(metrics_router)
    app.include_router(connections_router)
    app.include_router(orders_router)
    app.include_router(operator_orders_router)
    app.include_router(stock_router)
    app.include_router(carriers_router)
    app.include_router(sku_mappings_router)
    app.include_router(webhooks_router)
    serve_webhooks_first(app)
    return app


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory rakuten_connector.main:app_factory`."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
