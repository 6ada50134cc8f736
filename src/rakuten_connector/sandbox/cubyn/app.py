"""Cubyn simulator: an ASGI app serving the contract at its root, as if it were `https://api.cubyn.com/v2`
(`contract.py`), plus a JSON control API under `/_sandbox/` (`control.py`). State and lifecycle rules live
in `state.py` (its parts in `models.py`, the create-parcel checks in `validation.py`), answers in
`render.py`, faults and scheduling in `simulator.py`, webhook delivery in `webhooks.py`.

Parcels are validated against the field limits (400 with the field list) and later against the
merchant's stock; they then go through PICKED, PACKED and SHIPPED after configurable delays (`None`:
only when forced). Every change is sent as a signed `parcel.updated` webhook, every stock movement as a
`stock.updated`, to the URL and secret registered for the application key.

Control API (JSON bodies are the pydantic models of `bodies.py`, unknown fields refused; errors are
`{"message", ...}`: 400 for a body that is not JSON or does not fit, then with `errors: [{field, message}]`,
404 for an unknown application or parcel, 409 when the parcel is past the step; a client gone before its
body came gets a bare 400, as on the contract):

| route | body / query | does |
|---|---|---|
| `POST /_sandbox/reset` | | forget everything (applications, catalogues, parcels, deliveries, faults, lifecycle delays) |
| `POST /_sandbox/applications` | `{merchant_id, name? ("Rakuten France"), key? (random), webhook_url?, webhook_secret?}` | create an application (201): `{id, key, name, merchant_id, webhook_url}` |
| `GET /_sandbox/applications` | | `{applications: [...]}` |
| `PUT /_sandbox/applications/{key}/webhook` | `{url, secret: whsec_<base64>}` | where its webhooks go and how they are signed |
| `PUT /_sandbox/merchants/{merchant_id}/products` | `{products: [{sku, available, name?}]}` | seed or replace products (failed stock checks run again); answers the catalogue |
| `GET /_sandbox/merchants/{merchant_id}/products` | | `{products: [{sku, name, stock: {available, reserved, stored}}]}` |
| `POST /_sandbox/merchants/{merchant_id}/stock-movements` | `{sku, delta, movement? (ADJUSTMENT; INBOUND, RETURN, FULFILMENT)}` | a movement, sent as `stock.updated` (a positive one runs failed stock checks again) |
| `PUT /_sandbox/lifecycle` | `{validate?, pick?, pack?, ship?, in_transit?, deliver?}`: seconds, null or "manual" | the delays of the steps named; answers them all |
| `GET /_sandbox/faults`, `PUT /_sandbox/faults`, `DELETE /_sandbox/faults` | `Faults`: `{latency_seconds, error_rate, error_status (503), rate_limit_rate, retry_after (1), errors_next, rate_limits_next, malformed_next, duplicate_deliveries, reorder_deliveries}` | faults of contract calls (`*_next`: the next N calls) and of deliveries; `PUT` replaces them all |
| `GET /_sandbox/parcels` | | `{parcels: [{parcel, application_id, merchant_id, request}]}` |
| `GET /_sandbox/parcels/{parcel_id}` | | one of them |
| `POST /_sandbox/parcels/{parcel_id}/advance` | | the next lifecycle step now (a failed validation runs again) |
| `POST /_sandbox/parcels/{parcel_id}/status` | `{status}` | force any status (shipping assigns carrier and tracking and moves stock) |
| `POST /_sandbox/parcels/{parcel_id}/validation` | `{check: address or stock, status: PENDING, PASSED or FAILED, error?}` | force a check of a CREATED parcel |
| `GET /_sandbox/received` | | every create-parcel call: `{application_id, merchant_id, body, idempotency_key, status_code, parcel_id?}` |
| `GET /_sandbox/webhooks` | | `{deliveries: [{event_id, type, url, attempt, status_code, error, delivered, at}], pending, held, in_flight}` |
| `POST /_sandbox/webhooks/hold` | | keep deliveries queued |
| `POST /_sandbox/webhooks/release` | `{order? (fifo; reverse, shuffle)}` | send the queued deliveries in that order |
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from rakuten_connector.sandbox.bodies import ClientGone, MalformedBody, client_gone, field_errors
from rakuten_connector.sandbox.cubyn import contract, control
from rakuten_connector.sandbox.cubyn.models import LifecycleDelays
from rakuten_connector.sandbox.cubyn.render import message_response
from rakuten_connector.sandbox.cubyn.simulator import CubynSandbox, SandboxError
from rakuten_connector.sandbox.cubyn.webhooks import WebhookDispatcher

__all__ = ["create_cubyn_sandbox"]


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
    handlers = {
        SandboxError: _sandbox_error,
        MalformedBody: _malformed_body,
        ValidationError: _invalid_body,
        ClientGone: client_gone,
    }
    app = Starlette(routes=[*contract.ROUTES, *control.ROUTES], exception_handlers=handlers, lifespan=_lifespan)
    app.state.sandbox = CubynSandbox(delays or LifecycleDelays(), dispatcher, rng)
    return app


@asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    sandbox: CubynSandbox = app.state.sandbox
    await sandbox.dispatcher.start()
    try:
        yield
    finally:
        sandbox.cancel_tasks()
        await sandbox.dispatcher.stop()


async def _sandbox_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, SandboxError)
    return message_response(exc.status_code, exc.message, **exc.extra)


async def _malformed_body(_: Request, exc: Exception) -> Response:
    return message_response(400, "The body is not valid JSON.")


async def _invalid_body(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    errors = field_errors(exc)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return message_response(400, f"Invalid body: {summary}", errors=errors)
