"""The Cubyn contract the sandbox serves at its root, as if it were `https://api.cubyn.com/v2`: the
application key check, parcels (create, list, read, cancel) and the product catalogue. Every call first
meets the injected faults; route functions read the simulator from `request.app.state`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.bodies import read_json
from rakuten_connector.sandbox.cubyn.models import Application
from rakuten_connector.sandbox.cubyn.render import message_response, parcel_json
from rakuten_connector.sandbox.cubyn.simulator import SandboxError, parcel_from_path, sandbox_of
from rakuten_connector.sandbox.cubyn.validation import validate_parcel_body

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Application], Awaitable[Response]]


def contract(handler: Handler) -> Endpoint:
    """`handler` behind the injected faults and the `X-Application` key check (401 when unknown)."""

    async def endpoint(request: Request) -> Response:
        sandbox = sandbox_of(request)
        injected = await sandbox.inject_faults()
        if injected is not None:
            return injected
        app = sandbox.state.applications.get(request.headers.get("x-application", ""))
        if app is None:
            return message_response(401, "Invalid application key")
        return await handler(request, app)

    return endpoint


async def root(request: Request, app: Application) -> Response:
    auth = {"application": {"id": app.id, "name": app.name}}
    return JSONResponse({"name": "cubyn.api", "version": "2.0.0-sandbox", "auth": auth})


async def create_parcel(request: Request, app: Application) -> Response:
    state = sandbox_of(request).state
    body = await read_json(request)
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
    return JSONResponse(parcel_json(parcel), status_code=201)


async def list_parcels(request: Request, app: Application) -> Response:
    ref = request.query_params.get("orderRef")
    parcels = sandbox_of(request).state.parcels.values()
    found = [p for p in parcels if p.application is app and (ref is None or p.order_ref == ref)]
    return JSONResponse([parcel_json(p) for p in found])


async def get_parcel(request: Request, app: Application) -> Response:
    return JSONResponse(parcel_json(parcel_from_path(request, app)))


async def cancel_parcel(request: Request, app: Application) -> Response:
    parcel = parcel_from_path(request, app)
    if not sandbox_of(request).state.cancel(parcel):
        raise SandboxError(409, f"Parcel {parcel.id} is {parcel.status}: it can no longer be cancelled")
    return JSONResponse(parcel_json(parcel))


async def catalog(request: Request, app: Application) -> Response:
    state = sandbox_of(request).state
    try:
        offset = int(request.query_params.get("offset", "0"))
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        raise SandboxError(400, "offset and limit must be integers") from None
    if offset < 0 or not 1 <= limit <= 100:
        raise SandboxError(400, "offset must be >= 0 and limit between 1 and 100")
    products = state.sorted_catalogue(app.merchant_id)
    page = [state.product_json(app.merchant_id, p) for p in products[offset : offset + limit]]
    return JSONResponse(page, headers={"x-total-count": str(len(products))})


ROUTES = [
    Route("/", contract(root), methods=["GET"]),
    Route("/parcels", contract(create_parcel), methods=["POST"]),
    Route("/parcels", contract(list_parcels), methods=["GET"]),
    Route("/parcels/{parcel_id}", contract(get_parcel), methods=["GET"]),
    Route("/parcels/{parcel_id}/cancel", contract(cancel_parcel), methods=["PUT"]),
    Route("/product-catalog/products", contract(catalog), methods=["GET"]),
]
