"""The FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from redis.asyncio import Redis

from rakuten_connector import __version__
from rakuten_connector.api_texts import API_DESCRIPTION, OPENAPI_TAGS
from rakuten_connector.carriers.router import router as carriers_router
from rakuten_connector.clients.shared_http import shared_client
from rakuten_connector.connections.router import router as connections_router
from rakuten_connector.console.router import router as console_router
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
from rakuten_connector.kit.request_ids import RequestIds
from rakuten_connector.kit.text_guard import unstorable_text
from rakuten_connector.metrics import state as metrics_state
from rakuten_connector.metrics.families import HTTP_DURATION, HTTP_REQUESTS
from rakuten_connector.orders.activity_router import router as activity_router
from rakuten_connector.orders.router import operator_router as operator_orders_router
from rakuten_connector.orders.router import router as orders_router
from rakuten_connector.settings import Settings, get_settings
from rakuten_connector.skus.router import router as sku_mappings_router
from rakuten_connector.stock.router import router as stock_router
from rakuten_connector.webhooks.intake import EventIntake
from rakuten_connector.webhooks.operator_router import router as webhook_events_router
from rakuten_connector.webhooks.router import router as webhooks_router
from rakuten_connector.webhooks.router import serve_webhooks_first
from rakuten_connector.webhooks.secret_router import router as webhook_secret_router


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
        stop_gauges = metrics_state.watch(engine, app.state.redis)
        try:
            yield
        finally:
            stop_gauges()
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
        description=API_DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        # The token given to /docs' Authorize button survives a reload of the page.
        swagger_ui_parameters={"persistAuthorization": True},
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
    app.add_middleware(RequestIds)  # X-Request-ID on every answer, the 413s too; in the request's log lines
    # Outermost, so the 413s and the crashes are counted too.
    app.add_middleware(HttpMetrics, requests=HTTP_REQUESTS, latency=HTTP_DURATION)
    _include_routers(app, settings)
    return app


def _include_routers(app: FastAPI, settings: Settings) -> None:
    app.include_router(health_router)
    if settings.metrics_port is None:
        app.include_router(metrics_router)
    for router in (
        connections_router,
        webhook_secret_router,
        orders_router,
        operator_orders_router,
        activity_router,
        stock_router,
        carriers_router,
        sku_mappings_router,
        webhooks_router,
        webhook_events_router,
        console_router,
    ):
        app.include_router(router)
    serve_webhooks_first(app)


def app_factory() -> FastAPI:
    """Entry point for `uvicorn --factory rakuten_connector.main:app_factory`."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
