"""Rule 4 of docs/architecture.md: secrets are encrypted at rest, never returned after creation, never logged."""

from __future__ import annotations

import logging

import httpx
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.logging import redact_text
from tests.conftest import LOGS, auth_headers, use_secret
from tests.upstream_fakes import GOOD_KEY, GOOD_TOKEN, Upstreams, connection_body

A = auth_headers("merchant-a")


async def test_secrets_never_leave_in_answers_logs_or_raw_columns(
    client: httpx.AsyncClient, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post("/v1/connections", json=connection_body(), headers=A)
    assert created.status_code == 201
    webhook_secret = use_secret(created.json()["webhook"]["secret"])
    cid = created.json()["id"]
    for secret in (GOOD_TOKEN, GOOD_KEY):
        assert secret not in created.text
    # Not even partially: no 8-character slice of a secret appears.
    for secret in (GOOD_TOKEN, GOOD_KEY):
        assert not any(secret[i : i + 8] in created.text for i in range(len(secret) - 7))

    new_token = use_secret("rk-token-CANARY-rotated-77")
    upstreams.valid_tokens.add(new_token)
    answers = [
        await client.get("/v1/connections", headers=A),
        await client.get(f"/v1/connections/{cid}", headers=A),
        await client.patch(f"/v1/connections/{cid}", json={"token": new_token}, headers=A),
        await client.patch(f"/v1/connections/{cid}", json={"token": use_secret("rk-CANARY-refused")}, headers=A),
        await client.post("/v1/connections", json=connection_body(), headers=A),  # 409
        await client.post("/v1/connections", json=connection_body(seller_id="x", token="t" * 600), headers=A),
    ]
    upstreams.rakuten.side_effect = httpx.ReadTimeout("slow")
    answers.append(await client.post("/v1/connections", json=connection_body(seller_id="other"), headers=A))
    for response in answers:
        for secret in (GOOD_TOKEN, GOOD_KEY, webhook_secret, new_token, "rk-CANARY-refused"):
            assert secret not in response.text, response.request.url

    async with sessions() as session:
        raw = (
            await session.execute(
                text("SELECT rakuten_token_enc, cubyn_api_key_enc, webhook_secret_enc FROM connections")
            )
        ).one()
    stored = " ".join(value for value in raw if value)
    for secret in (GOOD_TOKEN, GOOD_KEY, webhook_secret, new_token):
        assert secret not in stored
    assert all(value.startswith("gAAAAA") for value in raw)  # Fernet tokens

    logs = LOGS.text()
    for secret in (GOOD_TOKEN, GOOD_KEY, webhook_secret, new_token):
        assert secret not in logs


def test_urls_with_the_token_are_redacted_in_every_logger() -> None:
    canary = use_secret("CANARY-url-token-3141")
    url = f"https://ws.fr.shopping.rakuten.com/sales_ws?action=getnewsales&login=shop&pwd={canary}&version=1"
    before = len(LOGS.lines)
    logging.getLogger("rakuten_connector.test").warning("calling %s", url)
    logging.getLogger("httpx").warning("HTTP Request: GET %s", url)
    structlog.get_logger().warning("calling", url=url, token=canary, nested={"pwd": canary})
    written = "".join(LOGS.lines[before:])
    assert canary not in written
    assert written.count("pwd=***") >= 3
    assert redact_text(url).endswith("pwd=***&version=1")


def test_httpx_request_logging_is_off() -> None:
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpcore").isEnabledFor(logging.INFO)
