"""A Rakuten France web-services simulator (ASGI), built by `create_rakuten_sandbox()`.

It speaks Rakuten's web-services contract on `/sales_ws` and `/stock_ws` (same actions, versions, parameters,
multipart part `file`), answers like Rakuten (ISO-8859-1, default namespaces, CDATA with whitespace,
`errorresponse` with HTTP 200 for bad credentials or quota) and keeps per-seller state in memory
(`rakuten_state`). Answers to a wrong `version` are a ParameterError, as a strict Rakuten would answer.

Control API (JSON; all under `/_sandbox`; errors are `{"error": {"code", "message"}}`):

| route | body / query | does |
|---|---|---|
| `POST /_sandbox/reset` | | forget everything (sellers, faults, call log, clock offset) |
| `POST /_sandbox/sellers` | `{login, token, quota_per_hour?, files_per_hour? (10), acceptance_deadline_hours? (48)}` | create (201) |
| `GET /_sandbox/sellers/{login}` | | seller summary: counts, calls this hour |
| `PATCH /_sandbox/sellers/{login}` | `{token?, quota_per_hour?, files_per_hour?, acceptance_deadline_hours?}` | change |
| `POST /_sandbox/sellers/{login}/sales/generate` | `GenerateOptions`: `{count, seed, shipping_types?, skus?, min_age_hours?, max_age_hours?, item_status?, multi_unit_rate?, multi_sku_rate?, empty_sku_rate?, nego_rate?}` | realistic French sales; answers `{"sales": [...]}` |
| `POST /_sandbox/sellers/{login}/sales` | `{"sales": [SaleIn]}`, SaleIn = `{purchase_id?, purchased_at? or age_minutes? (5), shipping_type, buyer_login?, buyer_email?, delivery_address?, billing_address?, relay_point?, items: [{sku, headline?, price?, status?, is_nego?, quantity? (units: one item each), item_id?, advert_id?}]}` (addresses use Rakuten's names: `civility, firstname, lastname, address1, address2, zipcode, city, country, countryalpha2, phonenumber1, phonenumber2`) | explicit sales (201) |
| `GET /_sandbox/sellers/{login}/sales` | | every sale with its items, statuses and tracking |
| `GET /_sandbox/sellers/{login}/items/{item_id}` | | one item and its purchase id |
| `POST /_sandbox/sellers/{login}/items/{item_id}/buyer-cancel` | | the buyer cancels a waiting item (409 otherwise) |
| `POST /_sandbox/sellers/{login}/items/{item_id}/status` | `{status}` | force any status (claims, closing...) |
| `PUT /_sandbox/sellers/{login}/inventory` | `{adverts: [{sku, stock, price?, advert_id?, quality?}], generate?: {count, seed?, prefix? ("SKU-"), max_stock? (50)}}` | replace the inventory |
| `GET /_sandbox/sellers/{login}/inventory` | `?sku=&offset=&limit=` | `{total, adverts: [{advert_id, sku, stock, price, quality}]}` |
| `GET /_sandbox/sellers/{login}/uploads` | | stock files: `{import_id, filename, status, lines, results}` |
| `GET /_sandbox/faults`, `PUT /_sandbox/faults`, `DELETE /_sandbox/faults` | `Faults`: `{latency_seconds, error_rate, timeout_rate, timeout_seconds (30), garbled_rate, truncated_rate, quota_exhausted, actions?, logins?, times?}` | inject faults (rates 0..1, seeded; `times`: only the next N matching calls) |
| `GET /_sandbox/calls` | `?login=&action=` | the call log: `{time, endpoint, method, action, login, params (never pwd), http_status, result, fault?}` (`result`: what Rakuten did; `fault`: garbled or truncated answer to it) |
| `GET /_sandbox/clock`, `POST /_sandbox/clock` | `{advance_seconds}` | the sandbox's clock (48 h window, deadlines, quota hours, stock file delay) |
| `PUT /_sandbox/settings` | `{upload_delay_seconds?, sales_page_size?, export_page_size?, report_page_size?}` | tune |
"""

from __future__ import annotations

import asyncio
import random
from datetime import date
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from rakuten_connector.sandbox.rakuten_control import ControlError, Faults, control_error, control_routes
from rakuten_connector.sandbox.rakuten_render import (
    ROOTS,
    STOCK_ACTIONS,
    render_error,
    render_export,
    render_import_result,
    render_item_info,
    render_report,
    render_sales,
    render_status,
)
from rakuten_connector.sandbox.rakuten_state import MAX_FILE_BYTES, RakutenWorld, Seller, WsError, parameter_error

VERSIONS = {
    "getnewsales": "2017-08-07",
    "getcurrentsales": "2017-08-07",
    "acceptsale": "2021-04-08",
    "refusesale": "2010-09-20",
    "getiteminfos": "2017-08-07",
    "cancelitem": "2011-02-02",
    "settrackingpackageinfos": "2016-03-16",
    "importitemshippingstatus": "2016-05-09",
    "export": "2018-06-29",
    "genericimportfile": "2015-02-02",
    "genericimportreport": "2017-02-10",
}
UPLOAD_ACTIONS = frozenset({"genericimportfile", "importitemshippingstatus"})
XML_MEDIA_TYPE = "text/xml; charset=ISO-8859-1"


class RakutenSandbox:
    """The simulator: a world, faults and a call log. `app.state.sandbox` is this object."""

    def __init__(self, *, seed: int = 0, **world_options: Any) -> None:
        self.seed = seed
        self.world_options = world_options
        self.reset()

    def reset(self) -> None:
        self.world = RakutenWorld(**self.world_options)
        self.faults = Faults()
        self.calls: list[dict[str, Any]] = []
        self.rng = random.Random(self.seed)

    # -- faults -----------------------------------------------------------------------------------------

    def _matches(self, action: str, login: str) -> bool:
        faults = self.faults
        return (faults.actions is None or action in faults.actions) and (
            faults.logins is None or login in faults.logins
        )

    def _pick_fault(self, action: str, login: str) -> str | None:
        faults = self.faults
        if not self._matches(action, login) or faults.times == 0:
            return None
        fault = None
        if faults.quota_exhausted:
            fault = "quota"
        else:
            for name, rate in (
                ("timeout", faults.timeout_rate),
                ("error", faults.error_rate),
                ("garbled", faults.garbled_rate),
                ("truncated", faults.truncated_rate),
            ):
                if rate and self.rng.random() < rate:
                    fault = name
                    break
        if fault is not None and faults.times is not None:
            faults.times -= 1
        return fault

    async def _hang(self, request: Request) -> None:
        """Sleep like a stuck server, but stop when the client gave up (so shutdown never waits)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.faults.timeout_seconds
        while loop.time() < end and not await request.is_disconnected():  # noqa: ASYNC110 - polls the client
            await asyncio.sleep(0.05)

    def _server_error(self) -> Response:
        if self.rng.random() < 0.5:
            body = render_error(
                WsError("ServerError", "Service unavailable", kind="Unknown error", http_status=503)
            )
            return Response(body, 503, media_type=XML_MEDIA_TYPE)
        return Response(b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")

    # -- web services -----------------------------------------------------------------------------------

    async def ws(self, request: Request) -> Response:
        query = request.query_params
        action, login = query.get("action", ""), query.get("login", "")
        entry: dict[str, Any] = {
            "time": self.world.now().isoformat(),
            "endpoint": request.url.path.strip("/"),
            "method": request.method,
            "action": action,
            "login": login,
            "params": {k: v for k, v in query.items() if k not in {"pwd", "login", "action"}},
            "http_status": None,
            "result": None,
        }
        self.calls.append(entry)
        fault = self._pick_fault(action, login)
        if self.faults.latency_seconds and self._matches(action, login):
            await asyncio.sleep(self.faults.latency_seconds)
        if fault == "timeout":
            await self._hang(request)
            entry.update(http_status=504, result="fault:timeout")
            return Response(b"", 504)
        if fault == "error":
            response = self._server_error()
            entry.update(http_status=response.status_code, result="fault:error")
            return response
        try:
            body = await _read_body(request) if request.method == "POST" else b""
            content = self._dispatch(entry["endpoint"], action, request, body, force_quota=fault == "quota")
            status, entry["result"] = 200, "ok"
        except WsError as exc:
            content, status, entry["result"] = render_error(exc), exc.http_status, exc.code
        # The action was carried out; only its answer is damaged (`result` keeps what really happened).
        if fault == "garbled":
            cut = len(content) // 3
            content, entry["fault"] = content[:cut] + b"<<\x00&&\xff garbage </>>" + content[cut:], "garbled"
        elif fault == "truncated":
            content, entry["fault"] = content[: len(content) // 2], "truncated"
        entry["http_status"] = status
        return Response(content, status, media_type=XML_MEDIA_TYPE)

    def _dispatch(self, endpoint: str, action: str, request: Request, body: bytes, *, force_quota: bool) -> bytes:
        query = request.query_params
        world = self.world
        seller = world.authenticate(query.get("login", ""), query.get("pwd", ""))
        expected_endpoint = "stock_ws" if action in STOCK_ACTIONS else "sales_ws"
        if action not in ROOTS or endpoint != expected_endpoint:
            raise parameter_error("Unknown action.", f"action {action!r} does not exist on {endpoint}")
        version = query.get("version", "")
        if version != VERSIONS[action]:
            raise parameter_error("Invalid version.", f"version {version!r} is not supported for {action}")
        world.count_call(seller, is_file=action == "genericimportfile")
        if force_quota:
            raise WsError("InvalidUserRights", "Quota exceeded.")
        world.tick(seller)
        login = seller.login
        if action in UPLOAD_ACTIONS:
            filename, content = _file_part(request, body)
            if action == "genericimportfile":
                return render_import_result(
                    action, login, version, world.upload(seller, filename, content).import_id
                )
            world.import_tracking(seller, content)
            return render_import_result(action, login, version, None)
        return self._dispatch_get(seller, action, version, query.get)

    def _dispatch_get(self, seller: Seller, action: str, version: str, get: Any) -> bytes:
        world, login = self.world, seller.login
        item_id = get("itemid", "")
        if action == "getnewsales":
            return render_sales(action, login, version, seller.seller_id, world.new_sales(seller))
        if action == "getcurrentsales":
            since = _parse_date(get("purchasedate", ""))
            sales, token = world.current_sales_page(seller, since, get("nexttoken", ""))
            return render_sales(action, login, version, seller.seller_id, sales, token)
        if action == "getiteminfos":
            return render_item_info(login, version, *world.item(seller, item_id))
        if action == "acceptsale":
            world.accept(seller, item_id, get("shippingfromcountry", ""))
            return render_status(action, login, version, "Accepted")
        if action == "refusesale":
            world.refuse(seller, item_id)
            return render_status(action, login, version, "Refused")
        if action == "cancelitem":
            world.cancel(seller, item_id, get("comment", ""))
            return render_status(action, login, version, "CANCELLED")
        if action == "settrackingpackageinfos":
            world.set_tracking(
                seller, item_id, get("transporter_name", ""), get("tracking_number", ""), get("tracking_url", "")
            )
            return render_status(action, login, version, "OK")
        if action == "export":
            adverts, token = world.export_page(seller, get("nexttoken", ""))
            return render_export(login, version, adverts, len(seller.adverts), token)
        # genericimportreport
        upload, products, token = world.report_page(seller, get("fileid", ""), get("nexttoken", ""))
        status = upload.status(world.now(), world.upload_delay)
        return render_report(login, version, upload, status, products, token)


def _parse_date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise parameter_error("Invalid purchasedate.", "purchasedate must be yyyy-mm-dd") from None


async def _read_body(request: Request) -> bytes:
    """The body, refused past Rakuten's 30 MB file limit (chunked bodies included)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FILE_BYTES + 64 * 1024:
            raise WsError("ParameterError", "File too large.", ["Files are limited to 30 MB."], http_status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def _file_part(request: Request, body: bytes) -> tuple[str, bytes]:
    content_type = request.headers.get("content-type", "")
    if request.method != "POST" or not content_type.startswith("multipart/form-data"):
        raise parameter_error("Missing file.", "Upload the file as multipart/form-data, part 'file'")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return str(part.get_filename() or "file.xml"), payload if isinstance(payload, bytes) else b""
    raise parameter_error("Missing file.", "No multipart part named 'file'")


def create_rakuten_sandbox(*, seed: int = 0, **world_options: Any) -> ASGIApp:
    """A fresh simulator. `world_options`: clock, upload_delay_seconds, sales/export/report_page_size."""
    sandbox = RakutenSandbox(seed=seed, **world_options)
    routes = [
        Route("/sales_ws", sandbox.ws, methods=["GET", "POST"]),
        Route("/stock_ws", sandbox.ws, methods=["GET", "POST"]),
        *control_routes(sandbox),
    ]
    app = Starlette(
        routes=routes, exception_handlers={ValidationError: _validation_error, ControlError: control_error}
    )
    app.state.sandbox = sandbox
    return app


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ValidationError)
    errors = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in exc.errors()]
    return JSONResponse({"error": {"code": "validation_error", "message": "invalid body", "details": errors}}, 422)


__all__ = ["Faults", "RakutenSandbox", "create_rakuten_sandbox"]
