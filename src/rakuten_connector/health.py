"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from rakuten_connector.kit.errors import ErrorAnswer, error_response, error_responses
from rakuten_connector.metrics.serving import metrics_response

router = APIRouter(tags=["health"])
# Apart: the API serves it unless METRICS_PORT gives it a port of its own.
metrics_router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 3.0


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "checks": {"database": "ok", "redis": "ok"}}]}
    )

    status: Literal["ok"]
    checks: dict[str, str] = Field(description="Each dependency (`database`, `redis`) and how it answered.")


NOT_READY = ErrorAnswer(
    "not_ready",
    "A dependency does not answer.",
    {"database": "ok", "redis": "error: ConnectionError"},
)


@router.get(
    "/healthz",
    operation_id="health.live",
    summary="Liveness",
    response_model=Liveness,
)
async def healthz() -> dict[str, str]:
    """The process is up (nothing else is checked: a liveness probe)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    operation_id="health.ready",
    summary="Readiness",
    response_model=Readiness,
    responses=error_responses({503: NOT_READY}),
)
async def readyz(request: Request) -> Response:
    """The database and Redis answer, each within a few seconds (a readiness probe); `details` of the 503
    says which does not."""
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
    return error_response(503, NOT_READY.code, NOT_READY.message, checks)


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return await metrics_response()
