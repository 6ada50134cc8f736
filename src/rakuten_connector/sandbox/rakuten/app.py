"""A Rakuten France web-services simulator (ASGI), built by `create_rakuten_sandbox()`.

It speaks Rakuten's web-services contract on `/sales_ws` and `/stock_ws` (same actions, versions, parameters,
multipart part `file`; `contract.py`), answers like Rakuten (ISO-8859-1, default namespaces, CDATA with
whitespace, `errorresponse` with HTTP 200 for bad credentials or quota; `render.py`) and keeps per-seller
state in memory (`state.py`, its parts in `models.py`). Answers to a wrong `version` are a ParameterError, as
a strict Rakuten would answer. Faults and the call log live in `simulator.py`.

Control API (`control.py`; JSON bodies are the pydantic models of `bodies.py`, unknown fields refused; all
under `/_sandbox`; errors are `{"error": {"code", "message"}}`: 400 `malformed_json` for a body that is not
JSON, 422 `validation_error` with `details` for one that does not fit, 404 `not_found`, 409 `conflict`; a
client gone before its body came gets a bare 400, as on the web services):

| route | body / query | does |
|---|---|---|
| `POST /_sandbox/reset` | | forget everything (sellers, faults, call log, clock offset) |
| `POST /_sandbox/sellers` | `{login, token, quota_per_hour?, files_per_hour? (10), acceptance_deadline_hours? (48)}` | create (201) |
| `GET /_sandbox/sellers/{login}` | | seller summary: counts, calls this hour |
| `PATCH /_sandbox/sellers/{login}` | `{token?, quota_per_hour?, files_per_hour?, acceptance_deadline_hours?}` | change |
| `POST /_sandbox/sellers/{login}/sales/generate` | `GenerateOptions`: `{count, seed, shipping_types? (any strings), skus?, min_age_hours?, max_age_hours?, item_status?, multi_unit_rate?, multi_sku_rate?, empty_sku_rate?, nego_rate?, so_colissimo_relay_rate? (0)}` | realistic French sales, address blocks by shipping type; answers `{"sales": [...]}` |
| `POST /_sandbox/sellers/{login}/sales` | `{"sales": [SaleIn]}`, SaleIn = `{purchase_id?, purchased_at? or age_minutes? (5), shipping_type (any string, kept as given), buyer_login?, buyer_email?, delivery_address?, billing_address?, relay_point?, items: [{sku, headline?, price?, status?, is_nego?, quantity? (units: one item each), item_id?, advert_id?}]}` (addresses use Rakuten's names: `civility, firstname, lastname, address1, address2, zipcode, city, country, countryalpha2, phonenumber1, phonenumber2`; none given: the blocks of the shipping type, see `shipping.py`) | explicit sales (201) |
| `GET /_sandbox/sellers/{login}/sales` | | every sale with its items, statuses and tracking |
| `GET /_sandbox/sellers/{login}/items/{item_id}` | | one item and its purchase id |
| `POST /_sandbox/sellers/{login}/items/{item_id}/buyer-cancel` | | the buyer cancels a waiting item (409 otherwise) |
| `POST /_sandbox/sellers/{login}/items/{item_id}/status` | `{status}` | force any status (claims, closing...) |
| `POST /_sandbox/sellers/{login}/items/{item_id}/messages` | `{content, sender? ("buyer")}` | a message about the item, unread until getiteminfos reads the item |
| `PUT /_sandbox/sellers/{login}/inventory` | `{adverts: [{sku, stock, price?, advert_id?, quality?}], generate?: {count, seed?, prefix? ("SKU-"), max_stock? (50)}}` | replace the inventory |
| `GET /_sandbox/sellers/{login}/inventory` | `?sku=&offset=&limit=` | `{total, adverts: [{advert_id, sku, stock, price, quality}]}` |
| `GET /_sandbox/sellers/{login}/uploads` | | stock files: `{import_id, filename, status, lines, results}` (a SKU without an offer: error `["alias", "60", "L'alias est obligatoire ..."]`) |
| `GET /_sandbox/faults`, `PUT /_sandbox/faults`, `DELETE /_sandbox/faults` | `Faults`: `{latency_seconds, error_rate, timeout_rate, timeout_seconds (30), garbled_rate, truncated_rate, quota_exhausted, actions?, logins?, times?}` | inject faults (rates 0..1, seeded; `times`: only the next N matching calls); `PUT` replaces them all |
| `GET /_sandbox/calls` | `?login=&action=` | the call log: `{time, endpoint, method, action, login, params (never pwd), http_status, result, fault?}` (`result`: what Rakuten did; `fault`: garbled or truncated answer to it) |
| `GET /_sandbox/clock`, `POST /_sandbox/clock` | `{advance_seconds}` | the sandbox's clock (48 h window, deadlines, quota hours, stock file delay) |
| `PUT /_sandbox/settings` | `{upload_delay_seconds?, sales_page_size?, export_page_size?, report_page_size?}` | tune |
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from rakuten_connector.sandbox.bodies import ClientGone, MalformedBody, client_gone
from rakuten_connector.sandbox.rakuten.control import ROUTES, ControlError
from rakuten_connector.sandbox.rakuten.simulator import RakutenSandbox, web_service

__all__ = ["create_rakuten_sandbox"]


def create_rakuten_sandbox(*, seed: int = 0, **world_options: Any) -> ASGIApp:
    """A fresh simulator. `world_options`: clock, upload_delay_seconds, sales/export/report_page_size.
    `app.state.sandbox` is its `RakutenSandbox` (for in-process use)."""
    routes = [
        Route("/sales_ws", web_service, methods=["GET", "POST"]),
        Route("/stock_ws", web_service, methods=["GET", "POST"]),
        *ROUTES,
    ]
    handlers = {
        ValidationError: _invalid_body,
        MalformedBody: _malformed_body,
        ControlError: _control_error,
        ClientGone: client_gone,
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    app.state.sandbox = RakutenSandbox(seed=seed, **world_options)
    return app


def _error(status: int, code: str, message: str, **extra: Any) -> Response:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status)


async def _control_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ControlError)
    return _error(exc.status, exc.code, exc.message)


async def _malformed_body(_: Request, exc: Exception) -> Response:
    return _error(400, "malformed_json", "the body is not JSON")


async def _invalid_body(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
    return _error(422, "validation_error", "invalid body", details=errors)
