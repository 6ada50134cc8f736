from __future__ import annotations

import httpx
from fastapi import FastAPI

from rakuten_connector.carriers.router import router
from rakuten_connector.kit.auth import Role, issue_token
from rakuten_connector.kit.errors import install_error_handlers
from rakuten_connector.settings import get_settings


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.settings = get_settings()  # where the routes' settings dependency reads them
    install_error_handlers(app)
    app.include_router(router)
    return app


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://test")


def bearer(role: Role = Role.MERCHANT) -> dict[str, str]:
    token = issue_token(get_settings().auth_jwt_secret.get_secret_value(), "merchant-1", role)
    return {"Authorization": f"Bearer {token}"}


async def test_lists_the_table() -> None:
    async with client() as http:
        answer = await http.get("/v1/carrier-mappings", headers=bearer())
    assert answer.status_code == 200
    items = answer.json()["items"]
    by_type = {item["rakuten_shipping_type"]: item for item in items}
    assert by_type["Recommandé"] == {
        "label": "By registered post",
        "rakuten_shipping_type": "Recommandé",
        "delivery_mode": "STANDARD",
        "delivery_signed": True,
        "available": True,
    }
    assert by_type["Point relais Mondial Relay"]["delivery_mode"] == "RELAY"
    assert by_type["Express"]["delivery_mode"] == "EXPRESS"
    assert by_type["So Colissimo"] == {
        "label": "So Colissimo",
        "rakuten_shipping_type": "So Colissimo",
        "delivery_mode": None,
        "delivery_signed": False,
        "available": False,
    }
    assert {i["rakuten_shipping_type"] for i in items if i["available"]} == {
        "Normal",
        "Suivi",
        "Recommandé",
        "Express",
        "Point relais Mondial Relay",
    }


async def test_operators_may_read_it_too() -> None:
    async with client() as http:
        answer = await http.get("/v1/carrier-mappings", headers=bearer(Role.OPERATOR))
    assert answer.status_code == 200


async def test_requires_a_token() -> None:
    async with client() as http:
        missing = await http.get("/v1/carrier-mappings")
        wrong = await http.get("/v1/carrier-mappings", headers={"Authorization": "Bearer nope"})
    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
