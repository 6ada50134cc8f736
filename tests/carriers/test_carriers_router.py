from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.carriers import service
from rakuten_connector.carriers.models import CarrierChoice
from rakuten_connector.carriers.router import router
from rakuten_connector.carriers.schemas import PATCH_MAX_KEYS
from rakuten_connector.connections.models import ConnectionState
from rakuten_connector.kit.auth import Role, issue_token
from rakuten_connector.kit.errors import install_error_handlers
from rakuten_connector.mapping.carriers import CARRIER_MAPPINGS
from rakuten_connector.orders.models import Order
from rakuten_connector.settings import get_settings
from tests.conftest import auth_headers
from tests.factories import add_connection


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.settings = get_settings()  # where the routes' settings dependency reads them
    install_error_handlers(app)
    app.include_router(router)
    return app


def table_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=make_app()), base_url="http://test")


def bearer(role: Role = Role.MERCHANT) -> dict[str, str]:
    token = issue_token(get_settings().auth_jwt_secret.get_secret_value(), "merchant-1", role)
    return {"Authorization": f"Bearer {token}"}


async def test_lists_the_table() -> None:
    async with table_client() as http:
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
    async with table_client() as http:
        answer = await http.get("/v1/carrier-mappings", headers=bearer(Role.OPERATOR))
    assert answer.status_code == 200


async def test_requires_a_token() -> None:
    async with table_client() as http:
        missing = await http.get("/v1/carrier-mappings")
        wrong = await http.get("/v1/carrier-mappings", headers={"Authorization": "Bearer nope"})
    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"


# -- a connection's carrier mappings (the whole app, on the test database) -------------------------------

A = auth_headers("merchant-a")
B = auth_headers("merchant-b")
OPERATOR = auth_headers("ops", Role.OPERATOR)
MISSING = "00000000-0000-4000-8000-000000000000"
DEFAULT_TYPES = [m.rakuten_shipping_type for m in CARRIER_MAPPINGS]


@pytest.fixture
async def connection_id(sessions: async_sessionmaker[AsyncSession]) -> str:
    return await add_connection(sessions, merchant_id="merchant-a")


def url(connection_id: str) -> str:
    return f"/v1/connections/{connection_id}/carrier-mappings"


def by_type(answer: httpx.Response) -> dict[str, dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    return {row["shipping_type"]: row for row in answer.json()["items"]}


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(CarrierChoice.shipping_key, CarrierChoice.shipping_type, CarrierChoice.choice).order_by(
                CarrierChoice.shipping_key
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_without_choices_the_table_is_the_default_one(client: httpx.AsyncClient, connection_id: str) -> None:
    answer = await client.get(url(connection_id), headers=A)
    rows = by_type(answer)
    assert [row["shipping_type"] for row in answer.json()["items"]] == DEFAULT_TYPES
    assert all(row["source"] == "default" and row["cubyn"] == row["default"] for row in rows.values())
    assert rows["Recommandé"] == {
        "shipping_type": "Recommandé",
        "cubyn": "STANDARD_SIGNED",
        "source": "default",
        "label": "By registered post",
        "default": "STANDARD_SIGNED",
        "allowed": ["STANDARD", "STANDARD_SIGNED", "EXPRESS", "NOT_IMPORTED"],
        "seen": False,
    }
    assert rows["Point relais Mondial Relay"]["cubyn"] == "RELAY"
    assert "RELAY" in rows["Point relais Mondial Relay"]["allowed"]
    assert rows["So Colissimo"]["cubyn"] == "NOT_IMPORTED"


async def test_the_types_seen_in_the_sales_are_listed(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], connection_id: str
) -> None:
    other = await add_connection(sessions, merchant_id="merchant-a", seller_id="t", seller_key="t")
    async with sessions() as session:
        for n, (owner, shipping_type) in enumerate(
            [
                (connection_id, "So   Colissimo"),
                (connection_id, "Mode personnalisé 1"),
                (connection_id, "mode  personnalise 1"),
                (connection_id, None),
                (other, "Only elsewhere"),
            ]
        ):
            session.add(
                Order(connection_id=owner, purchase_id=str(n), state="skipped", shipping_type=shipping_type)
            )
        await session.commit()
    answer = await client.get(url(connection_id), headers=A)
    rows = by_type(answer)
    assert [row["shipping_type"] for row in answer.json()["items"]] == [*DEFAULT_TYPES, "Mode personnalisé 1"]
    assert rows["So Colissimo"]["seen"] is True
    assert rows["Suivi"]["seen"] is False
    custom = rows["Mode personnalisé 1"]
    assert (custom["cubyn"], custom["source"], custom["label"], custom["seen"]) == (
        "NOT_IMPORTED",
        "default",
        None,
        True,
    )
    assert "RELAY" not in custom["allowed"]


async def test_choices_are_set_and_set_back_to_the_default(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], connection_id: str
) -> None:
    body = {
        "so colissimo": "STANDARD",
        "  CHRONOPOST ": "EXPRESS",
        "Suivi": "NOT_IMPORTED",
        "Mode personnalisé 1": "STANDARD_SIGNED",
        "POINT RELAIS mondial relay": "RELAY",
    }
    answer = await client.patch(url(connection_id), json=body, headers=A)
    rows = by_type(answer)
    expected = {
        "So Colissimo": "STANDARD",
        "Chronopost": "EXPRESS",
        "Suivi": "NOT_IMPORTED",
        "Mode personnalisé 1": "STANDARD_SIGNED",
        "Point relais Mondial Relay": "RELAY",
    }
    for shipping_type, choice in expected.items():
        assert (rows[shipping_type]["cubyn"], rows[shipping_type]["source"]) == (choice, "connection")
    assert (rows["Normal"]["cubyn"], rows["Normal"]["source"]) == ("STANDARD", "default")
    assert by_type(await client.get(url(connection_id), headers=A)) == rows
    assert await stored(sessions) == [
        ("chronopost", "CHRONOPOST", "EXPRESS"),
        ("mode personnalise 1", "Mode personnalisé 1", "STANDARD_SIGNED"),
        ("point relais mondial relay", "POINT RELAIS mondial relay", "RELAY"),
        ("so colissimo", "so colissimo", "STANDARD"),
        ("suivi", "Suivi", "NOT_IMPORTED"),
    ]

    # Another spelling changes the same choice; null goes back to the default (also for a type never chosen).
    answer = await client.patch(
        url(connection_id),
        json={"SO COLISSIMO": "STANDARD_SIGNED", "suivi": None, "Mode personnalise 1": None, "Express": None},
        headers=A,
    )
    rows = by_type(answer)
    assert (rows["So Colissimo"]["cubyn"], rows["So Colissimo"]["source"]) == ("STANDARD_SIGNED", "connection")
    assert (rows["Suivi"]["cubyn"], rows["Suivi"]["source"]) == ("STANDARD", "default")
    assert "Mode personnalisé 1" not in rows  # neither seen in a sale nor chosen any more
    assert [key for key, _, _ in await stored(sessions)] == [
        "chronopost",
        "point relais mondial relay",
        "so colissimo",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"So Colissimo": "RELAY"},
        {"Chronopost": "RELAY"},
        {"Relai Kiala": "RELAY"},
        {"Mode personnalisé 1": "RELAY"},
        {"Suivi": "STANDARD", "So Colissimo": "RELAY"},  # refused as a whole
    ],
)
async def test_relay_is_refused_where_sales_carry_no_mondial_relay_point(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], connection_id: str, body: dict[str, str]
) -> None:
    answer = await client.patch(url(connection_id), json=body, headers=A)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    [detail] = error["details"]
    assert detail["type"] == "relay_unavailable"
    assert detail["loc"][0] == "body"
    assert "Mondial Relay" in detail["msg"]
    assert await stored(sessions) == []


@pytest.mark.parametrize(
    "body",
    [
        [],
        ["So Colissimo", "STANDARD"],
        "So Colissimo",
        42,
        None,
        {f"Mode {n}": "STANDARD" for n in range(PATCH_MAX_KEYS + 1)},
        {"": "STANDARD"},
        {"   ": "STANDARD"},
        {"x" * 129: "STANDARD"},
        {"So\x00Colissimo": "STANDARD"},
        {"So\tColissimo": "STANDARD"},
        {"So\u200bColissimo": "STANDARD"},
        {"\u0301": "STANDARD"},  # nothing left once accents are removed
        {"So Colissimo": "standard"},
        {"So Colissimo": "STANDARD_PLUS"},
        {"So Colissimo": 1},
        {"So Colissimo": True},
        {"So Colissimo": ["STANDARD"]},
        {"So Colissimo": "STANDARD", "so  colissimo": "EXPRESS"},  # the same type twice
        {"Suivi": "STANDARD", "": "EXPRESS"},  # one bad entry refuses all
    ],
)
async def test_bad_bodies_are_422_and_change_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], connection_id: str, body: Any
) -> None:
    answer = await client.patch(url(connection_id), json=body, headers=A)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"]
    assert error["details"]
    assert await stored(sessions) == []


async def test_an_empty_patch_changes_nothing_and_answers_the_table(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], connection_id: str
) -> None:
    answer = await client.patch(url(connection_id), json={}, headers=A)
    assert answer.status_code == 200, answer.text
    assert answer.json() == (await client.get(url(connection_id), headers=A)).json()
    assert await stored(sessions) == []


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, connection_id: str) -> None:
    headers = {**A, "Content-Type": "application/json"}
    answer = await client.patch(url(connection_id), content=b'{"So Colissimo": ', headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "malformed_json"


async def test_a_connection_keeps_a_bounded_number_of_choices(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    connection_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "CHOICES_MAX", 3)
    first = await client.patch(url(connection_id), json={"A": "STANDARD", "B": "STANDARD"}, headers=A)
    assert first.status_code == 200
    refused = await client.patch(url(connection_id), json={"C": "STANDARD", "D": "EXPRESS"}, headers=A)
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "validation_error"
    assert [key for key, _, _ in await stored(sessions)] == ["a", "b"]
    # Going back to the default makes room.
    again = await client.patch(url(connection_id), json={"A": None, "C": "STANDARD", "D": "EXPRESS"}, headers=A)
    assert again.status_code == 200
    assert [key for key, _, _ in await stored(sessions)] == ["b", "c", "d"]


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_another_merchants_connection_is_a_404_like_a_missing_one(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], connection_id: str, method: str
) -> None:
    body = {"So Colissimo": "STANDARD"} if method == "PATCH" else None
    foreign = await client.request(method, url(connection_id), json=body, headers=B)
    missing = await client.request(method, url(MISSING), json=body, headers=B)
    malformed = await client.request(method, url("not-a-uuid"), json=body, headers=B)
    assert foreign.status_code == missing.status_code == malformed.status_code == 404
    assert foreign.json() == missing.json()
    assert await stored(sessions) == []
    operator = await client.request(method, url(connection_id), json=body, headers=OPERATOR)
    assert operator.status_code == 200


async def test_a_disconnected_connection_shows_its_table_but_refuses_changes(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    gone = await add_connection(sessions, merchant_id="merchant-a", state=ConnectionState.DISCONNECTED.value)
    assert (await client.get(url(gone), headers=A)).status_code == 200
    answer = await client.patch(url(gone), json={"So Colissimo": "STANDARD"}, headers=A)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "connection_disconnected"
    assert await stored(sessions) == []


async def test_a_paused_connection_may_change_its_choices(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    paused = await add_connection(sessions, merchant_id="merchant-a", paused=True)
    answer = await client.patch(url(paused), json={"So Colissimo": "STANDARD"}, headers=A)
    assert by_type(answer)["So Colissimo"]["source"] == "connection"


async def test_the_connection_routes_need_a_token(client: httpx.AsyncClient, connection_id: str) -> None:
    for method in ("GET", "PATCH"):
        answer = await client.request(method, url(connection_id), json={"So Colissimo": "STANDARD"})
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "unauthorized"
