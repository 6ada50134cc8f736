"""Cubyn simulator: an ASGI app serving the contract at its root, as if it were
`https://api.cubyn.com/v2`, plus a JSON control API under `/_sandbox/` (`cubyn_control.py`). State and
lifecycle rules live in `cubyn_state.py`, webhook delivery in `cubyn_webhooks.py`.

Parcels are validated against the field limits (400 with the field list) and later against the
merchant's stock; they then go through PICKED, PACKED and SHIPPED after configurable delays (`None`:
only when forced). Every change is sent as a signed `parcel.updated` webhook, every stock movement as a
`stock.updated`, to the URL and secret registered for the application key.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.cubyn_control import control_routes
from rakuten_connector.sandbox.cubyn_runtime import (
    CubynSandbox,
    Faults,
    Handler,
    LifecycleDelays,
    SandboxError,
    json_body,
    message_response,
    parcel_from_path,
)
from rakuten_connector.sandbox.cubyn_state import Application, validate_parcel_body
from rakuten_connector.sandbox.cubyn_webhooks import WebhookDispatcher

__all__ = ["CubynSandbox", "Faults", "LifecycleDelays", "create_cubyn_sandbox"]


def create_cubyn_sandbox(
    *,
    delays: LifecycleDelays | None = None,
    webhook_retry_base: float = 0.1,
    webhook_max_attempts: int = 12,
    seed: int | None = None,
) -> Starlette:
    """The Cubyn simulator as an ASGI app; `app.state.sandbox` is its `CubynSandbox` (for in-process use)."""
    rng = random.Random(seed)
    dispatcher = WebhookDispatcher(retry_base=webhook_retry_base, max_attempts=webhook_max_attempts, rng=rng)
    sandbox = CubynSandbox(delays or LifecycleDelays(), dispatcher, rng)
    state = sandbox.state

    def contract(handler: Callable[[Request, Application], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            injected = await sandbox.inject_faults()
            if injected is not None:
                return injected
            app = state.applications.get(request.headers.get("x-application", ""))
            if app is None:
                return message_response(401, "Invalid application key")
            try:
                return await handler(request, app)
            except SandboxError as exc:
                return message_response(exc.status_code, exc.message, **exc.extra)

        return endpoint

    # -- contract ----------------------------------------------------------------------------------

    async def root(request: Request, app: Application) -> Response:
        auth = {"application": {"id": app.id, "name": app.name}}
        return JSONResponse({"name": "cubyn.api", "version": "2.0.0-sandbox", "auth": auth})

    async def create_parcel(request: Request, app: Application) -> Response:
        body = await json_body(request)
        record: dict[str, Any] = {
            "application_id": app.id,
            "merchant_id": app.merchant_id,
            "body": body,
            "idempotency_key": request.headers.get("idempotency-key"),
        }
        state.received.append(record)
        errors = validate_parcel_body(body)
        if errors:
            record["status_code"] = 400
            raise SandboxError(400, "Invalid parcel", errors=errors)
        existing = state.find_by_ref(app, body["orderRef"])
        if existing is not None:
            record.update(status_code=409, parcel_id=existing.id)
            raise SandboxError(409, "A parcel with this orderRef already exists", parcelId=existing.id)
        parcel = state.create_parcel(app, body)
        record.update(status_code=201, parcel_id=parcel.id)
        return JSONResponse(parcel.to_json(), status_code=201)

    async def list_parcels(request: Request, app: Application) -> Response:
        ref = request.query_params.get("orderRef")
        found = [p for p in state.parcels.values() if p.application is app and (ref is None or p.order_ref == ref)]
        return JSONResponse([p.to_json() for p in found])

    async def get_parcel(request: Request, app: Application) -> Response:
        return JSONResponse(parcel_from_path(state, request, app).to_json())

    async def cancel_parcel(request: Request, app: Application) -> Response:
        parcel = parcel_from_path(state, request, app)
        if not state.cancel(parcel):
            raise SandboxError(409, f"Parcel {parcel.id} is {parcel.status}: it can no longer be cancelled")
        return JSONResponse(parcel.to_json())

    async def catalog(request: Request, app: Application) -> Response:
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            raise SandboxError(400, "offset and limit must be integers") from None
        if offset < 0 or not 1 <= limit <= 100:
            raise SandboxError(400, "offset must be >= 0 and limit between 1 and 100")
        products = sorted(state.catalogue(app.merchant_id).values(), key=lambda p: p.sku)
        page = [state.product_json(app.merchant_id, p) for p in products[offset : offset + limit]]
        return JSONResponse(page, headers={"x-total-count": str(len(products))})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await dispatcher.start()
        try:
            yield
        finally:
            sandbox.cancel_tasks()
            await dispatcher.stop()

    routes = [
        Route("/", contract(root), methods=["GET"]),
        Route("/parcels", contract(create_parcel), methods=["POST"]),
        Route("/parcels", contract(list_parcels), methods=["GET"]),
        Route("/parcels/{parcel_id}", contract(get_parcel), methods=["GET"]),
        Route("/parcels/{parcel_id}/cancel", contract(cancel_parcel), methods=["PUT"]),
        Route("/product-catalog/products", contract(catalog), methods=["GET"]),
        *control_routes(sandbox),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
