"""Cubyn simulator (contracts/cubyn.md): an ASGI app serving the contract at its root, as if it were
`https://api.cubyn.com/v2`, plus a JSON control API under `/_sandbox/` (see the README of the report or
the route list at the end of this module).

Parcels are validated against the field limits (400 with the field list) and later against the
merchant's stock; they then go through PICKED, PACKED and SHIPPED after configurable delays (`None`:
only when forced). Every change is sent as a signed `parcel.updated` webhook, every stock movement as a
`stock.updated`, to the URL and secret registered for the application key.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rakuten_connector.sandbox.cubyn_state import (
    STEPS,
    Application,
    CubynState,
    SandboxParcel,
    validate_parcel_body,
)
from rakuten_connector.sandbox.cubyn_webhooks import WebhookDispatcher

MOVEMENTS = ("INBOUND", "RETURN", "FULFILMENT", "ADJUSTMENT")


@dataclass
class LifecycleDelays:
    """Seconds before each step happens on its own; None: only when forced through the control API."""

    validate: float | None = 0.5
    pick: float | None = 1.0
    pack: float | None = 1.0
    ship: float | None = 1.0
    in_transit: float | None = None
    deliver: float | None = None


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0  # share of contract calls answered `error_status`
    error_status: int = 503
    rate_limit_rate: float = 0.0  # share of contract calls answered 429
    retry_after: int = 1
    errors_next: int = 0  # the next N contract calls fail with `error_status`
    rate_limits_next: int = 0  # the next N contract calls answer 429
    malformed_next: int = 0  # the next N contract calls answer 200 with a body that is not JSON
    duplicate_deliveries: bool = False
    reorder_deliveries: bool = False


class SandboxError(Exception):
    def __init__(self, status_code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status_code, self.message, self.extra = status_code, message, extra


class CubynSandbox:
    def __init__(self, delays: LifecycleDelays, dispatcher: WebhookDispatcher, rng: random.Random) -> None:
        self.initial_delays = delays
        self.delays = replace(delays)
        self.faults = Faults()
        self.dispatcher = dispatcher
        self.rng = rng
        self.state = CubynState(self._emit, self._schedule)
        self._tasks: set[asyncio.Task[None]] = set()

    def _emit(self, app: Application, event_type: str, data: dict[str, Any]) -> None:
        if app.webhook_url and app.webhook_secret:
            self.dispatcher.enqueue(app.webhook_url, app.webhook_secret, event_type, data)

    def _schedule(self, parcel: SandboxParcel) -> None:
        step = self.state.next_step(parcel)
        delay = getattr(self.delays, step) if step else None
        if delay is None:
            return
        task = asyncio.get_running_loop().create_task(self._later(parcel.id, parcel.generation, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _later(self, parcel_id: int, generation: int, delay: float) -> None:
        await asyncio.sleep(delay)
        parcel = self.state.parcels.get(parcel_id)
        if parcel is not None and parcel.generation == generation:
            self.state.advance(parcel)

    def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def reset(self) -> None:
        self.cancel_tasks()
        self.state.reset()
        self.dispatcher.clear()
        self.faults = Faults()
        self.delays = replace(self.initial_delays)

    async def inject_faults(self) -> Response | None:
        faults = self.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.errors_next > 0 or (faults.error_rate and self.rng.random() < faults.error_rate):
            faults.errors_next = max(0, faults.errors_next - 1)
            return JSONResponse({"message": "Sandbox: injected server error"}, status_code=faults.error_status)
        if faults.rate_limits_next > 0 or (faults.rate_limit_rate and self.rng.random() < faults.rate_limit_rate):
            faults.rate_limits_next = max(0, faults.rate_limits_next - 1)
            headers = {"Retry-After": str(faults.retry_after)}
            return JSONResponse({"message": "Too many requests"}, status_code=429, headers=headers)
        if faults.malformed_next > 0:
            faults.malformed_next -= 1
            return Response("<html>Bad gateway</html>", status_code=200, media_type="text/html")
        return None


def _message(status_code: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status_code)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return await request.json()
    except ValueError:
        raise SandboxError(400, "The body is not valid JSON.") from None


async def _json_object(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise SandboxError(400, "The body must be a JSON object.")
    return body


Handler = Callable[[Request], Awaitable[Response]]


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
                return _message(401, "Invalid application key")
            try:
                return await handler(request, app)
            except SandboxError as exc:
                return _message(exc.status_code, exc.message, **exc.extra)

        return endpoint

    def control(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except SandboxError as exc:
                return _message(exc.status_code, exc.message, **exc.extra)

        return endpoint

    def own_parcel(request: Request, app: Application | None) -> SandboxParcel:
        try:
            parcel = state.parcels.get(int(request.path_params["parcel_id"]))
        except ValueError:
            parcel = None
        if parcel is None or (app is not None and parcel.application is not app):
            raise SandboxError(404, "Parcel not found")
        return parcel

    # -- contract ----------------------------------------------------------------------------------

    async def root(request: Request, app: Application) -> Response:
        auth = {"application": {"id": app.id, "name": app.name}}
        return JSONResponse({"name": "cubyn.api", "version": "2.0.0-sandbox", "auth": auth})

    async def create_parcel(request: Request, app: Application) -> Response:
        body = await _json_body(request)
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
        return JSONResponse(own_parcel(request, app).to_json())

    async def cancel_parcel(request: Request, app: Application) -> Response:
        parcel = own_parcel(request, app)
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

    # -- control -----------------------------------------------------------------------------------

    async def create_application(request: Request) -> Response:
        body = await _json_object(request)
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
        except Exception:  # the library raises several types for a bad secret
            raise SandboxError(400, "secret must be a Standard Webhooks secret (whsec_<base64>)") from None
        app.webhook_url, app.webhook_secret = url, secret

    async def list_applications(request: Request) -> Response:
        return JSONResponse({"applications": [a.public() for a in state.applications.values()]})

    async def put_webhook(request: Request) -> Response:
        app = state.applications.get(request.path_params["key"])
        if app is None:
            raise SandboxError(404, "Unknown application key")
        set_webhook(app, await _json_object(request))
        return JSONResponse(app.public())

    def products_answer(merchant_id: str) -> JSONResponse:
        products = sorted(state.catalogue(merchant_id).values(), key=lambda p: p.sku)
        return JSONResponse({"products": [state.product_json(merchant_id, p) for p in products]})

    async def seed_products(request: Request) -> Response:
        merchant_id = request.path_params["merchant_id"]
        products = (await _json_object(request)).get("products")
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
        body = await _json_object(request)
        sku, delta, movement = body.get("sku"), body.get("delta"), body.get("movement", "ADJUSTMENT")
        if not isinstance(sku, str) or not sku or not isinstance(delta, int) or movement not in MOVEMENTS:
            raise SandboxError(400, f"sku, integer delta and movement in {MOVEMENTS} are required")
        product = state.move_stock(merchant_id, sku, delta, movement)
        if delta > 0:
            state.revalidate_failed(merchant_id)
        return JSONResponse(state.product_json(merchant_id, product))

    async def put_lifecycle(request: Request) -> Response:
        body = await _json_object(request)
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
            body = await _json_object(request)
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
        return JSONResponse(parcel_answer(own_parcel(request, None)))

    async def advance(request: Request) -> Response:
        parcel = own_parcel(request, None)
        state.advance(parcel)
        return JSONResponse(parcel_answer(parcel))

    async def force_status(request: Request) -> Response:
        parcel = own_parcel(request, None)
        status = (await _json_object(request)).get("status")
        if not isinstance(status, str) or not status:
            raise SandboxError(400, "status is required")
        state.set_status(parcel, status)
        return JSONResponse(parcel_answer(parcel))

    async def force_validation(request: Request) -> Response:
        parcel = own_parcel(request, None)
        body = await _json_object(request)
        check, status, error = body.get("check"), body.get("status"), body.get("error")
        if check not in ("address", "stock") or status not in ("PENDING", "PASSED", "FAILED"):
            raise SandboxError(400, "check in (address, stock) and status in (PENDING, PASSED, FAILED)")
        if parcel.status != "CREATED":
            raise SandboxError(409, "only a CREATED parcel is validated")
        state.force_check(parcel, check, status, error if isinstance(error, str) else None)
        return JSONResponse(parcel_answer(parcel))

    async def webhooks(request: Request) -> Response:
        answer = {"deliveries": dispatcher.log, "pending": dispatcher.pending, "held": dispatcher.held}
        return JSONResponse(answer)

    async def hold(request: Request) -> Response:
        dispatcher.hold()
        return JSONResponse({"held": True})

    async def release(request: Request) -> Response:
        order = (await _json_object(request)).get("order", "fifo")
        if order not in ("fifo", "reverse", "shuffle"):
            raise SandboxError(400, "order must be fifo, reverse or shuffle")
        dispatcher.release(order)
        return JSONResponse({"held": False})

    async def reset(request: Request) -> Response:
        sandbox.reset()
        return JSONResponse({"reset": True})

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
        Route("/_sandbox/applications", control(create_application), methods=["POST"]),
        Route("/_sandbox/applications", control(list_applications), methods=["GET"]),
        Route("/_sandbox/applications/{key}/webhook", control(put_webhook), methods=["PUT"]),
        Route("/_sandbox/merchants/{merchant_id}/products", control(seed_products), methods=["PUT"]),
        Route("/_sandbox/merchants/{merchant_id}/products", control(get_products), methods=["GET"]),
        Route("/_sandbox/merchants/{merchant_id}/stock-movements", control(stock_movement), methods=["POST"]),
        Route("/_sandbox/lifecycle", control(put_lifecycle), methods=["PUT"]),
        Route("/_sandbox/faults", control(faults), methods=["GET", "PUT", "DELETE"]),
        Route("/_sandbox/parcels", control(list_all_parcels), methods=["GET"]),
        Route("/_sandbox/parcels/{parcel_id}", control(one_parcel), methods=["GET"]),
        Route("/_sandbox/parcels/{parcel_id}/advance", control(advance), methods=["POST"]),
        Route("/_sandbox/parcels/{parcel_id}/status", control(force_status), methods=["POST"]),
        Route("/_sandbox/parcels/{parcel_id}/validation", control(force_validation), methods=["POST"]),
        Route("/_sandbox/received", control(received), methods=["GET"]),
        Route("/_sandbox/webhooks", control(webhooks), methods=["GET"]),
        Route("/_sandbox/webhooks/hold", control(hold), methods=["POST"]),
        Route("/_sandbox/webhooks/release", control(release), methods=["POST"]),
        Route("/_sandbox/reset", control(reset), methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sandbox = sandbox
    return app
