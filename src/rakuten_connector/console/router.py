"""`GET /console`: the console's page and its assets, read from the package (no build step).

The page talks only to the public REST API with the bearer token the person pastes in. Everything it shows
comes from outside (purchase ids, reasons, SKUs), so the headers forbid what an injected text could use:
no inline script or style, no other origin, no framing, no content sniffing.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request, Response

from rakuten_connector.kit.errors import NotFound

router = APIRouter(include_in_schema=False)

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# The assets the page loads, and nothing else: a name is never a path into the package.
ASSETS = {
    "console.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "dom.js": "text/javascript; charset=utf-8",
    "connections.js": "text/javascript; charset=utf-8",
    "orders.js": "text/javascript; charset=utf-8",
    "stock.js": "text/javascript; charset=utf-8",
    "activity.js": "text/javascript; charset=utf-8",
}
_TRACKING_TEMPLATE = "{{tracking_url_template}}"


@cache
def _asset(name: str) -> bytes:
    return files("rakuten_connector.console").joinpath("static", name).read_bytes()


def _headers(cache_control: str) -> dict[str, str]:
    return {**_HEADERS, "Cache-Control": cache_control}


@router.get("/console")
async def console_page(request: Request) -> Response:
    """The page; the tracking link of a parcel follows this deployment's CUBYN_TRACKING_URL_TEMPLATE."""
    template = request.app.state.settings.cubyn_tracking_url_template
    page = _asset("index.html").decode().replace(_TRACKING_TEMPLATE, html.escape(template, quote=True))
    return Response(page, media_type="text/html; charset=utf-8", headers=_headers("no-cache"))


@router.get("/console/assets/{name}")
async def console_asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFound("asset")
    return Response(_asset(name), media_type=media_type, headers=_headers("no-cache"))
