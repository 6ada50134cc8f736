"""The app factory: documentation pages and /metrics are served or not, as the settings say."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from rakuten_connector.main import create_app
from rakuten_connector.settings import Settings

DOCS = ("/docs", "/redoc", "/openapi.json")


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        return await http.get(path)


@pytest.fixture
def apps(settings: Settings) -> dict[str, FastAPI]:
    return {
        "default": create_app(settings),
        "no-docs": create_app(settings.model_copy(update={"docs_enabled": False})),
        "metrics-elsewhere": create_app(settings.model_copy(update={"metrics_port": 9464})),
    }


async def test_docs_are_served_by_default_outside_production(apps: dict[str, FastAPI]) -> None:
    for path in DOCS:
        assert (await get(apps["default"], path)).status_code == 200, path


async def test_docs_can_be_turned_off(apps: dict[str, FastAPI]) -> None:
    for path in DOCS:
        response = await get(apps["no-docs"], path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    # The document itself still exists (for `make openapi`), only its routes are gone.
    assert "/v1/connections" in apps["no-docs"].openapi()["paths"]


async def test_metrics_are_served_by_the_api_unless_they_have_their_own_port(apps: dict[str, FastAPI]) -> None:
    served = await get(apps["default"], "/metrics")
    assert served.status_code == 200
    assert "rakuten_connector_http_requests_total" in served.text
    elsewhere = await get(apps["metrics-elsewhere"], "/metrics")
    assert elsewhere.status_code == 404
    assert elsewhere.json()["error"]["code"] == "not_found"
    assert (await get(apps["metrics-elsewhere"], "/healthz")).status_code == 200
