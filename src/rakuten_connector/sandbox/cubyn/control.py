"""Control API of the Cubyn sandbox, under `/_sandbox/` (documented in `app.py`): applications and webhook
targets, catalogue and stock movements, lifecycle delays, faults, forced transitions, what was received and
delivered. Bodies are the pydantic models of `bodies.py`; route functions read the simulator from
`request.app.state`."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.bodies import StatusIn, read_body
from rakuten_connector.sandbox.cubyn.bodies import (
    ApplicationIn,
    Faults,
    LifecycleIn,
    MovementIn,
    ProductsIn,
    ReleaseIn,
    ValidationIn,
    WebhookIn,
)
from rakuten_connector.sandbox.cubyn.render import application_json, parcel_record
from rakuten_connector.sandbox.cubyn.simulator import SandboxError, parcel_from_path, sandbox_of

# -- applications -----------------------------------------------------------------------------------------


async def create_application(request: Request) -> Response:
    body = await read_body(request, ApplicationIn)
    state = sandbox_of(request).state
    if body.key is not None and body.key in state.applications:
        raise SandboxError(400, "key must be a new non-empty string")
    app = state.create_application(body.merchant_id, body.name or "Rakuten France", body.key)
    app.webhook_url, app.webhook_secret = body.webhook_url or None, body.webhook_secret
    return JSONResponse(application_json(app), status_code=201)


async def list_applications(request: Request) -> Response:
    applications = sandbox_of(request).state.applications.values()
    return JSONResponse({"applications": [application_json(a) for a in applications]})


async def put_webhook(request: Request) -> Response:
    app = sandbox_of(request).state.applications.get(request.path_params["key"])
    if app is None:
        raise SandboxError(404, "Unknown application key")
    body = await read_body(request, WebhookIn)
    app.webhook_url, app.webhook_secret = body.url, body.secret
    return JSONResponse(application_json(app))


# -- catalogue and stock ----------------------------------------------------------------------------------


def _products(request: Request, merchant_id: str) -> JSONResponse:
    state = sandbox_of(request).state
    products = state.sorted_catalogue(merchant_id)
    return JSONResponse({"products": [state.product_json(merchant_id, p) for p in products]})


async def seed_products(request: Request) -> Response:
    merchant_id = request.path_params["merchant_id"]
    state = sandbox_of(request).state
    for product in (await read_body(request, ProductsIn)).products:
        state.seed(merchant_id, product.sku, product.available, product.name)
    state.revalidate_failed(merchant_id)
    return _products(request, merchant_id)


async def get_products(request: Request) -> Response:
    return _products(request, request.path_params["merchant_id"])


async def stock_movement(request: Request) -> Response:
    merchant_id = request.path_params["merchant_id"]
    state = sandbox_of(request).state
    body = await read_body(request, MovementIn)
    product = state.move_stock(merchant_id, body.sku, body.delta, body.movement)
    if body.delta > 0:
        state.revalidate_failed(merchant_id)
    return JSONResponse(state.product_json(merchant_id, product))


# -- lifecycle and faults ---------------------------------------------------------------------------------


async def put_lifecycle(request: Request) -> Response:
    sandbox = sandbox_of(request)
    for step, delay in (await read_body(request, LifecycleIn)).changes().items():
        setattr(sandbox.delays, step, delay)
    return JSONResponse(asdict(sandbox.delays))


async def faults(request: Request) -> Response:
    sandbox = sandbox_of(request)
    if request.method == "DELETE":
        sandbox.set_faults(Faults())
    elif request.method == "PUT":
        sandbox.set_faults(await read_body(request, Faults))
    return JSONResponse(sandbox.faults.model_dump())


# -- parcels ----------------------------------------------------------------------------------------------


async def list_all_parcels(request: Request) -> Response:
    parcels = sandbox_of(request).state.parcels.values()
    return JSONResponse({"parcels": [parcel_record(p) for p in parcels]})


async def received(request: Request) -> Response:
    return JSONResponse({"received": sandbox_of(request).state.received})


async def one_parcel(request: Request) -> Response:
    return JSONResponse(parcel_record(parcel_from_path(request, None)))


async def advance(request: Request) -> Response:
    parcel = parcel_from_path(request, None)
    sandbox_of(request).state.advance(parcel)
    return JSONResponse(parcel_record(parcel))


async def force_status(request: Request) -> Response:
    parcel = parcel_from_path(request, None)
    sandbox_of(request).state.set_status(parcel, (await read_body(request, StatusIn)).status)
    return JSONResponse(parcel_record(parcel))


async def force_validation(request: Request) -> Response:
    parcel = parcel_from_path(request, None)
    body = await read_body(request, ValidationIn)
    if parcel.status != "CREATED":
        raise SandboxError(409, "only a CREATED parcel is validated")
    sandbox_of(request).state.force_check(parcel, body.check, body.status, body.error)
    return JSONResponse(parcel_record(parcel))


# -- webhooks and reset -----------------------------------------------------------------------------------


async def webhooks(request: Request) -> Response:
    dispatcher = sandbox_of(request).dispatcher
    answer = {
        "deliveries": dispatcher.log,
        "pending": dispatcher.pending,
        "held": dispatcher.held,
        "in_flight": dispatcher.in_flight,
    }
    return JSONResponse(answer)


async def hold(request: Request) -> Response:
    sandbox_of(request).dispatcher.hold()
    return JSONResponse({"held": True})


async def release(request: Request) -> Response:
    order = (await read_body(request, ReleaseIn)).order
    sandbox_of(request).dispatcher.release(order)
    return JSONResponse({"held": False})


async def reset(request: Request) -> Response:
    sandbox_of(request).reset()
    return JSONResponse({"reset": True})


ROUTES = [
    Route("/_sandbox/applications", create_application, methods=["POST"]),
    Route("/_sandbox/applications", list_applications, methods=["GET"]),
    Route("/_sandbox/applications/{key}/webhook", put_webhook, methods=["PUT"]),
    Route("/_sandbox/merchants/{merchant_id}/products", seed_products, methods=["PUT"]),
    Route("/_sandbox/merchants/{merchant_id}/products", get_products, methods=["GET"]),
    Route("/_sandbox/merchants/{merchant_id}/stock-movements", stock_movement, methods=["POST"]),
    Route("/_sandbox/lifecycle", put_lifecycle, methods=["PUT"]),
    Route("/_sandbox/faults", faults, methods=["GET", "PUT", "DELETE"]),
    Route("/_sandbox/parcels", list_all_parcels, methods=["GET"]),
    Route("/_sandbox/parcels/{parcel_id}", one_parcel, methods=["GET"]),
    Route("/_sandbox/parcels/{parcel_id}/advance", advance, methods=["POST"]),
    Route("/_sandbox/parcels/{parcel_id}/status", force_status, methods=["POST"]),
    Route("/_sandbox/parcels/{parcel_id}/validation", force_validation, methods=["POST"]),
    Route("/_sandbox/received", received, methods=["GET"]),
    Route("/_sandbox/webhooks", webhooks, methods=["GET"]),
    Route("/_sandbox/webhooks/hold", hold, methods=["POST"]),
    Route("/_sandbox/webhooks/release", release, methods=["POST"]),
    Route("/_sandbox/reset", reset, methods=["POST"]),
]
