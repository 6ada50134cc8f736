"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from rakuten_connector.kit.errors import error_response

router = APIRouter(tags=["health"])
# Apart: the API serves it unless METRICS_PORT gives it a port of its own.
metrics_router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database or Redis does not answer."}})
async def readyz(request: Request) -> Response:
    """The database and Redis answer."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await request.app.state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ok", "checks": checks})
    return error_response(503, "not_ready", "A dependency does not answer.", checks)


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
