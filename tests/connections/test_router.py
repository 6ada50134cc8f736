"""Every connection route and its error codes, over the ASGI app."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.auth import Role
from tests.conftest import PUBLIC_URL, auth_headers, use_secret
from tests.upstream_fakes import QUOTA, Upstreams, connection_body

A = auth_headers("merchant-a")
B = auth_headers("merchant-b")
OPERATOR = auth_headers("ops", Role.OPERATOR)


async def create(client: httpx.AsyncClient, headers: dict[str, str] = A, **overrides: object) -> httpx.Response:
    return await client.post("/v1/connections", json=connection_body(**overrides), headers=headers)


async def count_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return len((await session.scalars(select(Connection))).all())


async def test_create_checks_credentials_and_returns_the_webhook_once(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    response = await create(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active"
    assert body["merchant_id"] == "merchant-a"
    assert body["stock_sync_enabled"] is True
    assert body["paused"] is False
    assert body["orders"]["imported"] == 0
    assert set(body["orders"]) >= {"skipped", "importing", "accepted", "shipped", "failed", "needs_attention"}
    assert body["webhook"]["url"] == f"{PUBLIC_URL}/v1/webhooks/cubyn/{body['id']}"
    assert body["webhook_url"] == body["webhook"]["url"]
    secret = body["webhook"]["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert "token" not in body
    assert "cubyn_api_key" not in body
    # Rakuten is asked first, then Cubyn, each once.
    assert upstreams.rakuten.call_count == 1
    assert upstreams.cubyn.call_count == 1
    request = upstreams.rakuten.calls.last.request
    assert request.url.params["login"] == "boutique-seller"
    assert request.url.params["version"] == "2017-08-07"
    # Never shown again.
    again = await client.get(f"/v1/connections/{body['id']}", headers=A)
    assert again.status_code == 200
    assert "webhook" not in again.json()
    assert secret not in again.text


async def test_create_with_stock_sync_off(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    response = await create(client, stock_sync_enabled=False)
    assert response.status_code == 201
    assert response.json()["stock_sync_enabled"] is False


@pytest.mark.parametrize(
    ("token", "key", "code"),
    [
        ("wrong-token", None, "rakuten_credentials_invalid"),
        (None, "wrong-key", "cubyn_credentials_invalid"),
    ],
)
async def test_create_refuses_wrong_credentials_and_stores_nothing(
    client: httpx.AsyncClient,
    upstreams: Upstreams,
    sessions: async_sessionmaker[AsyncSession],
    token: str | None,
    key: str | None,
    code: str,
) -> None:
    overrides = {k: use_secret(v) for k, v in (("token", token), ("cubyn_api_key", key)) if v}
    response = await create(client, **overrides)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code
    assert await count_rows(sessions) == 0


async def test_wrong_rakuten_token_does_not_even_ask_cubyn(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    response = await create(client, token=use_secret("bad-token"))
    assert response.status_code == 422
    assert upstreams.cubyn.call_count == 0


async def test_rakuten_account_without_rights_is_refused(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    rights = QUOTA.replace(b"Quota exceeded.", b"Vous n'etes pas vendeur professionnel.")
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(200, content=rights)
    response = await create(client)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "rakuten_credentials_invalid"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(503, text="<html>maintenance</html>"),
        httpx.ConnectTimeout("slow"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(200, content=b"<getnewsalesresult><response>trunc"),
    ],
    ids=["500", "503-html", "connect-timeout", "read-timeout", "connect-error", "garbled"],
)
async def test_rakuten_down_gives_503_and_stores_nothing(
    client: httpx.AsyncClient,
    upstreams: Upstreams,
    sessions: async_sessionmaker[AsyncSession],
    answer: httpx.Response | Exception,
) -> None:
    upstreams.rakuten.side_effect = answer if isinstance(answer, Exception) else None
    if isinstance(answer, httpx.Response):
        upstreams.rakuten.return_value = answer
    response = await create(client)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "rakuten_unavailable"
    assert await count_rows(sessions) == 0


async def test_rakuten_quota_gives_503_with_retry_after(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(200, content=QUOTA)
    response = await create(client)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "rakuten_unavailable"
    assert 1 <= int(response.headers["retry-after"]) <= 3600


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(500, json={"message": "boom"}), httpx.Response(502), httpx.ReadTimeout("slow")],
    ids=["500", "502", "timeout"],
)
async def test_cubyn_down_gives_503_and_stores_nothing(
    client: httpx.AsyncClient,
    upstreams: Upstreams,
    sessions: async_sessionmaker[AsyncSession],
    answer: httpx.Response | Exception,
) -> None:
    upstreams.cubyn.side_effect = answer if isinstance(answer, Exception) else None
    if isinstance(answer, httpx.Response):
        upstreams.cubyn.return_value = answer
    response = await create(client)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "cubyn_unavailable"
    assert await count_rows(sessions) == 0


async def test_a_rakuten_answer_in_an_unknown_charset_is_unavailable_and_stores_nothing(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    upstreams.rakuten.side_effect = None
    upstreams.rakuten.return_value = httpx.Response(
        200, content=b"<getnewsalesresult/>", headers={"content-type": "text/xml; charset=x-bogus"}
    )
    response = await create(client)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "rakuten_unavailable"
    assert await count_rows(sessions) == 0


async def test_a_live_seller_cannot_be_connected_twice_by_anyone(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    assert (await create(client)).status_code == 201
    for headers, seller in ((A, "boutique-seller"), (B, "boutique-seller"), (B, "  Boutique-Seller ")):
        response = await create(client, headers=headers, seller_id=seller)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "seller_already_connected"
    # Only after both upstreams accepted the credentials.
    assert upstreams.rakuten.call_count == 4
    assert upstreams.cubyn.call_count == 4


@pytest.mark.parametrize("seller", ["boutique-seller", "boutique-seller ", " BOUTIQUE-SELLER"])
async def test_a_wrong_token_cannot_tell_whether_a_seller_is_connected(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession], seller: str
) -> None:
    assert (await create(client)).status_code == 201
    connected = await create(client, headers=B, seller_id=seller, token="wrong-token")
    unconnected = await create(client, headers=B, seller_id="nobody-here", token="wrong-token")
    assert connected.status_code == unconnected.status_code == 422
    assert connected.json() == unconnected.json()
    assert connected.json()["error"]["code"] == "rakuten_credentials_invalid"
    # A wrong Cubyn key is refused the same way, whether or not the seller is connected.
    no_key = await create(client, headers=B, seller_id=seller, cubyn_api_key="wrong-key")
    no_key_elsewhere = await create(client, headers=B, seller_id="nobody-here", cubyn_api_key="wrong-key")
    assert no_key.status_code == no_key_elsewhere.status_code == 422
    assert no_key.json() == no_key_elsewhere.json()
    assert await count_rows(sessions) == 1


async def test_two_racing_creations_of_one_seller_store_one(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answers = await asyncio.gather(*(create(client) for _ in range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) == 1
    assert set(codes) <= {201, 409}
    assert await count_rows(sessions) == 1


async def test_list_shows_own_connections_and_operator_sees_all(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    a = (await create(client, headers=A, seller_id="seller-a")).json()
    b = (await create(client, headers=B, seller_id="seller-b")).json()
    mine = (await client.get("/v1/connections", headers=A)).json()["items"]
    assert [c["id"] for c in mine] == [a["id"]]
    everything = (await client.get("/v1/connections", headers=OPERATOR)).json()["items"]
    assert {c["id"] for c in everything} == {a["id"], b["id"]}
    only_b = (await client.get("/v1/connections?merchant_id=merchant-b", headers=OPERATOR)).json()["items"]
    assert [c["id"] for c in only_b] == [b["id"]]
    # The filter does not widen a merchant's view.
    still_mine = (await client.get("/v1/connections?merchant_id=merchant-b", headers=A)).json()["items"]
    assert [c["id"] for c in still_mine] == [a["id"]]


async def test_operator_creates_for_a_named_merchant(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    missing = await create(client, headers=OPERATOR)
    assert missing.status_code == 422
    response = await create(client, headers=OPERATOR, merchant_id="merchant-c")
    assert response.status_code == 201
    assert response.json()["merchant_id"] == "merchant-c"


async def test_a_merchant_cannot_create_for_another(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    response = await create(client, headers=A, merchant_id="merchant-b")
    assert response.status_code == 403
    assert upstreams.rakuten.call_count == 0


async def test_patch_plain_fields_and_paused_status(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    cid = (await create(client)).json()["id"]
    response = await client.patch(
        f"/v1/connections/{cid}", json={"name": "Renamed", "paused": True, "stock_sync_enabled": False}, headers=A
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["paused"], body["status"], body["stock_sync_enabled"]) == (
        "Renamed",
        True,
        "paused",
        False,
    )
    assert upstreams.rakuten.call_count == 1  # no secret changed: no live check
    resumed = await client.patch(f"/v1/connections/{cid}", json={"paused": False}, headers=A)
    assert resumed.json()["status"] == "active"


async def test_patch_checks_new_secrets_live_and_keeps_old_ones_on_refusal(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await create(client)).json()["id"]
    async with sessions() as session:
        before = await session.get(Connection, cid)
        assert before is not None
        token_before, key_before = before.rakuten_token_enc, before.cubyn_api_key_enc
    refused = await client.patch(
        f"/v1/connections/{cid}", json={"token": use_secret("bad-new-token"), "name": "x"}, headers=A
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "rakuten_credentials_invalid"
    refused_key = await client.patch(f"/v1/connections/{cid}", json={"cubyn_api_key": "bad-key"}, headers=A)
    assert refused_key.json()["error"]["code"] == "cubyn_credentials_invalid"
    async with sessions() as session:
        after = await session.get(Connection, cid)
        assert after is not None
        assert (after.name, after.rakuten_token_enc, after.cubyn_api_key_enc) == (
            "Ma boutique Rakuten",
            token_before,
            key_before,
        )
    new_token = use_secret("rk-token-CANARY-new-0001")
    upstreams.valid_tokens.add(new_token)
    accepted = await client.patch(f"/v1/connections/{cid}", json={"token": new_token}, headers=A)
    assert accepted.status_code == 200
    assert upstreams.rakuten.calls.last.request.url.params["pwd"] == new_token
    assert new_token not in accepted.text


async def test_patch_token_revives_a_connection_with_invalid_credentials(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await create(client)).json()["id"]
    async with sessions() as session:
        connection = await session.get(Connection, cid)
        assert connection is not None
        connection.state = "credentials_invalid"
        connection.state_reason = "Rakuten refused the token."
        await session.commit()
    shown = (await client.get(f"/v1/connections/{cid}", headers=A)).json()
    assert (shown["status"], shown["status_reason"]) == ("credentials_invalid", "Rakuten refused the token.")
    upstreams.rakuten.side_effect = httpx.ReadTimeout("slow")
    down = await client.patch(f"/v1/connections/{cid}", json={"token": use_secret("rk-other")}, headers=A)
    assert down.status_code == 503
    upstreams.rakuten.side_effect = upstreams._rakuten
    revived = await client.patch(
        f"/v1/connections/{cid}", json={"token": next(iter(upstreams.valid_tokens))}, headers=A
    )
    assert revived.status_code == 200
    assert (revived.json()["status"], revived.json()["status_reason"]) == ("active", None)


async def test_delete_erases_secrets_keeps_history_and_frees_the_seller(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = (await create(client)).json()["id"]
    response = await client.delete(f"/v1/connections/{cid}", headers=A)
    assert response.status_code == 204
    assert response.content == b""
    shown = await client.get(f"/v1/connections/{cid}", headers=A)
    assert shown.status_code == 200
    assert shown.json()["status"] == "disconnected"
    async with sessions() as session:
        row = await session.get(Connection, cid)
        assert row is not None
        assert (row.rakuten_token_enc, row.cubyn_api_key_enc, row.webhook_secret_enc) == (None, None, None)
    assert (await client.delete(f"/v1/connections/{cid}", headers=A)).status_code == 204
    patched = await client.patch(f"/v1/connections/{cid}", json={"paused": True}, headers=A)
    assert patched.status_code == 409
    assert patched.json()["error"]["code"] == "connection_disconnected"
    # The seller can be connected again, by anyone.
    again = await create(client, headers=B)
    assert again.status_code == 201
    assert again.json()["id"] != cid
    listed = (await client.get("/v1/connections", headers=OPERATOR)).json()["items"]
    assert sorted(c["status"] for c in listed) == ["active", "disconnected"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "seller_id": "s", "token": "t", "cubyn_api_key": "k", "surprise": 1},
        {"name": "x", "seller_id": "s", "token": "t"},
        {"name": "", "seller_id": "s", "token": "t", "cubyn_api_key": "k"},
        {"name": "x", "seller_id": "s", "token": "t", "cubyn_api_key": "k", "stock_sync_enabled": "maybe"},
        {"name": "x", "seller_id": "s" * 129, "token": "t", "cubyn_api_key": "k"},
        [],
    ],
    ids=["unknown-field", "missing-key", "empty-name", "bad-bool", "long-seller", "not-an-object"],
)
async def test_create_rejects_bad_bodies_with_422(
    client: httpx.AsyncClient, upstreams: Upstreams, body: object
) -> None:
    response = await client.post("/v1/connections", json=body, headers=A)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert upstreams.rakuten.call_count == 0


@pytest.mark.parametrize("secret", ["caf\u00e9-token", "two words", "tab\there"], ids=["accent", "space", "tab"])
async def test_a_secret_that_cannot_travel_in_a_url_or_header_is_a_422_and_nothing_is_called(
    client: httpx.AsyncClient, upstreams: Upstreams, secret: str
) -> None:
    cid = (await create(client)).json()["id"]
    calls = upstreams.rakuten.call_count
    for body in ({"token": secret}, {"cubyn_api_key": secret}):
        response = await client.patch(f"/v1/connections/{cid}", json=body, headers=A)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
        assert secret not in response.text
    response = await client.post("/v1/connections", json=connection_body(token=secret), headers=A)
    assert response.status_code == 422
    assert upstreams.rakuten.call_count == calls


async def test_patch_rejects_unknown_fields(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    cid = (await create(client)).json()["id"]
    response = await client.patch(f"/v1/connections/{cid}", json={"status": "active"}, headers=A)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", "status"]


@pytest.mark.parametrize(
    "change",
    [
        {"paused": "yes"},
        {"paused": 1},
        {"paused": 0},
        {"paused": "true"},
        {"paused": "false"},
        {"stock_sync_enabled": "no"},
        {"stock_sync_enabled": 0},
        {"name": 7},
        {"token": 12345678},
    ],
)
async def test_patch_takes_only_json_booleans_and_strings(
    client: httpx.AsyncClient, upstreams: Upstreams, change: dict[str, object]
) -> None:
    cid = (await create(client)).json()["id"]
    before = (await client.get(f"/v1/connections/{cid}", headers=A)).json()
    response = await client.patch(f"/v1/connections/{cid}", json=change, headers=A)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert response.json()["error"]["details"][0]["loc"] == ["body", *change]
    assert (await client.get(f"/v1/connections/{cid}", headers=A)).json() == before
    assert upstreams.rakuten.call_count == 1


async def test_create_takes_only_a_json_boolean_for_stock_sync(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    response = await create(client, stock_sync_enabled=0)
    assert response.status_code == 422
    assert upstreams.rakuten.call_count == 0


async def test_rejected_secret_is_not_echoed_in_validation_errors(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    secret = use_secret("echo-CANARY-" + "z" * 600)
    response = await client.post("/v1/connections", json=connection_body(token=secret), headers=A)
    assert response.status_code == 422
    assert "echo-CANARY" not in response.text


async def test_malformed_json_is_a_400(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    response = await client.post(
        "/v1/connections", content=b'{"name": ', headers={**A, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
