"""Control API of the Cubyn sandbox, under `/_sandbox/`: applications and webhook targets, catalogue and
stock movements, lifecycle delays, faults, forced transitions, what was received and delivered."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.cubyn_runtime import (
    MOVEMENTS,
    CubynSandbox,
    Faults,
    SandboxError,
    guarded,
    json_object,
    parcel_from_path,
)
from rakuten_connector.sandbox.cubyn_state import STEPS, Application, SandboxParcel


def control_routes(sandbox: CubynSandbox) -> list[Route]:
    state, dispatcher = sandbox.state, sandbox.dispatcher

    async def create_application(request: Request) -> Response:
        body = await json_object(request)
        merchant_id = str(body.get("merchant_id") or "")
        if not merchant_id:
            raise SandboxError(400, "merchant_id is required")
        key = body.get("key")
        if key is not None and (not isinstance(key, str) or not key or key in state.applications):
            raise SandboxError(400, "key must be a new non-empty string")
        app = state.create_application(merchant_id, str(body.get("name") or "Rakuten France"), key)
        if body.get("webhook_url"):
            set_webhook(app, body)
        return JSONResponse(app.public(), status_code=201)

    def set_webhook(app: Application, body: dict[str, Any]) -> None:
        url, secret = body.get("webhook_url") or body.get("url"), body.get("webhook_secret") or body.get("secret")
        if not isinstance(url, str) or not isinstance(secret, str):
            raise SandboxError(400, "url and secret are required")
        try:
            Webhook(secret)
        except (ValueError, RuntimeError, EmptyWebhookSecretError):
            raise SandboxError(400, "secret must be a Standard Webhooks secret (whsec_<base64>)") from None
        app.webhook_url, app.webhook_secret = url, secret

    async def list_applications(request: Request) -> Response:
        return JSONResponse({"applications": [a.public() for a in state.applications.values()]})

    async def put_webhook(request: Request) -> Response:
        app = state.applications.get(request.path_params["key"])
        if app is None:
            raise SandboxError(404, "Unknown application key")
        set_webhook(app, await json_object(request))
        return JSONResponse(app.public())

    def products_answer(merchant_id: str) -> JSONResponse:
        products = sorted(state.catalogue(merchant_id).values(), key=lambda p: p.sku)
        return JSONResponse({"products": [state.product_json(merchant_id, p) for p in products]})

    async def seed_products(request: Request) -> Response:
        merchant_id = request.path_params["merchant_id"]
        products = (await json_object(request)).get("products")
        if not isinstance(products, list):
            raise SandboxError(400, "products must be a list")
        for entry in products:
            if not isinstance(entry, dict) or not entry.get("sku") or not isinstance(entry.get("available"), int):
                raise SandboxError(400, "each product needs sku and an integer available")
            state.seed(merchant_id, str(entry["sku"]), entry["available"], entry.get("name"))
        state.revalidate_failed(merchant_id)
        return products_answer(merchant_id)

    async def get_products(request: Request) -> Response:
        return products_answer(request.path_params["merchant_id"])

    async def stock_movement(request: Request) -> Response:
        merchant_id = request.path_params["merchant_id"]
        body = await json_object(request)
        sku, delta, movement = body.get("sku"), body.get("delta"), body.get("movement", "ADJUSTMENT")
        if not isinstance(sku, str) or not sku or not isinstance(delta, int) or movement not in MOVEMENTS:
            raise SandboxError(400, f"sku, integer delta and movement in {MOVEMENTS} are required")
        product = state.move_stock(merchant_id, sku, delta, movement)
        if delta > 0:
            state.revalidate_failed(merchant_id)
        return JSONResponse(state.product_json(merchant_id, product))

    async def put_lifecycle(request: Request) -> Response:
        body = await json_object(request)
        for name, value in body.items():
            if name not in STEPS:
                raise SandboxError(400, f"unknown step {name!r}; steps: {', '.join(STEPS)}")
            if value == "manual":
                value = None
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise SandboxError(400, f"{name}: a delay in seconds >= 0, null or 'manual'")
            setattr(sandbox.delays, name, value)
        return JSONResponse(asdict(sandbox.delays))

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            sandbox.faults = Faults()
        elif request.method == "PUT":
            body = await json_object(request)
            known = {f.name: f.type for f in fields(Faults)}
            for name, value in body.items():
                if name not in known or isinstance(value, dict | list | str) or value is None:
                    raise SandboxError(400, f"unknown or invalid fault {name!r}")
                setattr(sandbox.faults, name, value)
        dispatcher.duplicate = sandbox.faults.duplicate_deliveries
        dispatcher.reorder = sandbox.faults.reorder_deliveries
        return JSONResponse(asdict(sandbox.faults))

    def parcel_answer(parcel: SandboxParcel) -> dict[str, Any]:
        return {
            "parcel": parcel.to_json(),
            "application_id": parcel.application.id,
            "merchant_id": parcel.application.merchant_id,
            "request": parcel.body,
        }

    async def list_all_parcels(request: Request) -> Response:
        return JSONResponse({"parcels": [parcel_answer(p) for p in state.parcels.values()]})

    async def received(request: Request) -> Response:
        return JSONResponse({"received": state.received})

    async def one_parcel(request: Request) -> Response:
        return JSONResponse(parcel_answer(parcel_from_path(state, request, None)))

    async def advance(request: Request) -> Response:
        parcel = parcel_from_path(state, request, None)
        state.advance(parcel)
        return JSONResponse(parcel_answer(parcel))

    async def force_status(request: Request) -> Response:
        parcel = parcel_from_path(state, request, None)
        status = (await json_object(request)).get("status")
        if not isinstance(status, str) or not status:
            raise SandboxError(400, "status is required")
        state.set_status(parcel, status)
        return JSONResponse(parcel_answer(parcel))

    async def force_validation(request: Request) -> Response:
        parcel = parcel_from_path(state, request, None)
        body = await json_object(request)
        check, status, error = body.get("check"), body.get("status"), body.get("error")
        if check not in ("address", "stock") or status not in ("PENDING", "PASSED", "FAILED"):
            raise SandboxError(400, "check in (address, stock) and status in (PENDING, PASSED, FAILED)")
        if parcel.status != "CREATED":
            raise SandboxError(409, "only a CREATED parcel is validated")
        state.force_check(parcel, check, status, error if isinstance(error, str) else None)
        return JSONResponse(parcel_answer(parcel))

    async def webhooks(request: Request) -> Response:
        answer = {
            "deliveries": dispatcher.log,
            "pending": dispatcher.pending,
            "held": dispatcher.held,
            "in_flight": dispatcher.in_flight,
        }
        return JSONResponse(answer)

    async def hold(request: Request) -> Response:
        dispatcher.hold()
        return JSONResponse({"held": True})

    async def release(request: Request) -> Response:
        order = (await json_object(request)).get("order", "fifo")
        if order not in ("fifo", "reverse", "shuffle"):
            raise SandboxError(400, "order must be fifo, reverse or shuffle")
        dispatcher.release(order)
        return JSONResponse({"held": False})

    async def reset(request: Request) -> Response:
        sandbox.reset()
        return JSONResponse({"reset": True})

    return [
        Route("/_sandbox/applications", guarded(create_application), methods=["POST"]),
        Route("/_sandbox/applications", guarded(list_applications), methods=["GET"]),
        Route("/_sandbox/applications/{key}/webhook", guarded(put_webhook), methods=["PUT"]),
        Route("/_sandbox/merchants/{merchant_id}/products", guarded(seed_products), methods=["PUT"]),
        Route("/_sandbox/merchants/{merchant_id}/products", guarded(get_products), methods=["GET"]),
        Route("/_sandbox/merchants/{merchant_id}/stock-movements", guarded(stock_movement), methods=["POST"]),
        Route("/_sandbox/lifecycle", guarded(put_lifecycle), methods=["PUT"]),
        Route("/_sandbox/faults", guarded(faults), methods=["GET", "PUT", "DELETE"]),
        Route("/_sandbox/parcels", guarded(list_all_parcels), methods=["GET"]),
        Route("/_sandbox/parcels/{parcel_id}", guarded(one_parcel), methods=["GET"]),
        Route("/_sandbox/parcels/{parcel_id}/advance", guarded(advance), methods=["POST"]),
        Route("/_sandbox/parcels/{parcel_id}/status", guarded(force_status), methods=["POST"]),
        Route("/_sandbox/parcels/{parcel_id}/validation", guarded(force_validation), methods=["POST"]),
        Route("/_sandbox/received", guarded(received), methods=["GET"]),
        Route("/_sandbox/webhooks", guarded(webhooks), methods=["GET"]),
        Route("/_sandbox/webhooks/hold", guarded(hold), methods=["POST"]),
        Route("/_sandbox/webhooks/release", guarded(release), methods=["POST"]),
        Route("/_sandbox/reset", guarded(reset), methods=["POST"]),
    ]
