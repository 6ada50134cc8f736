"""`/console` and its assets: served from the package with strict headers, nothing else reachable through
the asset route, out of the OpenAPI document; the scripts build the page without markup from data."""

from __future__ import annotations

import re
from importlib.resources import files

import httpx
import pytest
from fastapi import FastAPI

from rakuten_connector.console.router import ASSETS
from rakuten_connector.main import create_app
from rakuten_connector.settings import Settings

STATIC = files("rakuten_connector.console").joinpath("static")


def assert_strict_headers(response: httpx.Response) -> None:
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_page_has_strict_headers_and_no_inline_script(client: httpx.AsyncClient) -> None:
    response = await client.get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_strict_headers(response)
    page = response.text
    # Every script is a file of the page's own origin: no inline code, no inline handler.
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="/console/assets/app.js">']
    assert "</script>" in page
    assert not re.search(r"<script[^>]*>[^<]+</script>", page)
    assert not re.search(r"\son[a-z]+=", page)
    assert 'content="https://www.track.cubyn.com/{tracking_id}"' in page


async def test_the_tracking_template_is_escaped_into_the_page(settings: Settings) -> None:
    hostile = settings.model_copy(update={"cubyn_tracking_url_template": 'https://t.test/{tracking_id}"><script>'})
    app = create_app(hostile)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        page = (await http.get("/console")).text
    assert "<script>" not in page.replace('<script type="module" src="/console/assets/app.js">', "")
    assert "&quot;&gt;&lt;script&gt;" in page


@pytest.mark.parametrize("name", sorted(ASSETS))
async def test_every_asset_is_served_with_its_type(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/console/assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == ASSETS[name]
    assert_strict_headers(response)
    assert response.content == STATIC.joinpath(name).read_bytes()


@pytest.mark.parametrize(
    "name", ["index.html", "..%2Frouter.py", "%2E%2E%2F__init__.py", "missing.js", "app.js%00", "APP.JS"]
)
async def test_anything_else_is_not_found_in_the_error_shape(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/console/assets/{name}")
    assert response.status_code in (404, 422)
    assert response.json()["error"]["message"]


def test_every_file_the_page_loads_is_declared_and_the_scripts_never_write_markup() -> None:
    scripts = [path for path in STATIC.iterdir() if path.name.endswith(".js")]
    assert {path.name for path in scripts} | {"console.css"} == set(ASSETS)
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        for forbidden in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert forbidden not in text, f"{script.name} uses {forbidden}"
        for imported in re.findall(r'from "\./([a-z]+\.js)"', text):
            assert imported in ASSETS


async def test_the_console_is_not_in_the_api_document(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    assert not [path for path in paths if path.startswith("/console")]
    assert paths["/v1/connections/{connection_id}/activity"]["get"]["operationId"] == "connections.activity"
