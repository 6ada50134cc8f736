"""`POST /v1/connections/{id}/webhook-secret`: a new secret at once, the old one still accepted for the grace
period and refused after it, no event lost across the switch, the secrets never logged nor shown again."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.connections.models import Connection
from rakuten_connector.kit.auth import Role
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.main import create_app
from rakuten_connector.settings import Settings
from tests.conftest import LOGS, auth_headers, use_secret
from tests.moving_clock import MovingClock, clock
from tests.upstream_fakes import Upstreams, connection_body
from tests.webhooks.test_router import PARCEL_EVENT, STOCK_EVENT, Hook, sign, signed_headers, stored

__all__ = ["clock"]

A = auth_headers("merchant-a")
B = auth_headers("merchant-b")
OPERATOR = auth_headers("ops", Role.OPERATOR)
DAY = 86_400


async def rotate(hook: Hook, headers: dict[str, str] = A) -> httpx.Response:
    return await hook.client.post(f"/v1/connections/{hook.connection_id}/webhook-secret", headers=headers)


async def rotated_secret(hook: Hook) -> str:
    answer = await rotate(hook)
    assert answer.status_code == 201, answer.text
    return use_secret(answer.json()["secret"])


def event(n: int) -> dict[str, object]:
    return {**STOCK_EVENT, "data": {**STOCK_EVENT["data"], "sku": f"SKU-{n}"}}


async def send_with(hook: Hook, secret: str, payload: object) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await hook.send(body, headers=signed_headers(secret, body))


@pytest.fixture
async def hook(client: httpx.AsyncClient, upstreams: Upstreams) -> Hook:
    created = (await client.post("/v1/connections", json=connection_body(), headers=A)).json()
    return Hook(client, created["id"], use_secret(created["webhook"]["secret"]))


async def test_the_answer_shows_the_new_secret_once_and_until_when_the_old_one_works(
    hook: Hook, settings: Settings
) -> None:
    before = utcnow()
    answer = await rotate(hook)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"connection_id", "url", "secret", "previous_secret_valid_until", "grace_period_seconds"}
    secret = use_secret(body["secret"])
    assert secret.startswith("whsec_")
    assert secret != hook.secret
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert (body["connection_id"], body["url"]) == (hook.connection_id, settings.webhook_url(hook.connection_id))
    assert body["grace_period_seconds"] == settings.webhook_secret_grace_seconds == DAY
    until = datetime.fromisoformat(body["previous_secret_valid_until"])
    assert until.utcoffset() == timedelta(0)  # UTC, said so in the text
    assert before + timedelta(seconds=DAY) <= until <= utcnow() + timedelta(seconds=DAY)


async def test_during_the_grace_the_old_secret_the_new_one_and_both_together_are_accepted(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    assert (await send_with(hook, hook.secret, event(0))).status_code == 200  # the old secret's verifier is cached
    new = await rotated_secret(hook)
    assert (await send_with(hook, hook.secret, event(1))).json() == {"status": "accepted"}
    assert (await send_with(hook, new, event(2))).json() == {"status": "accepted"}
    body = json.dumps(event(3)).encode()
    headers = signed_headers(new, body)
    old_signature = sign(hook.secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    headers["webhook-signature"] = f"{old_signature} {headers['webhook-signature']}"
    assert (await hook.send(body, headers=headers)).json() == {"status": "accepted"}
    assert len(await stored(sessions)) == 4


async def test_after_the_grace_only_the_new_secret_is_accepted(
    hook: Hook, sessions: async_sessionmaker[AsyncSession], clock: MovingClock
) -> None:
    new = await rotated_secret(hook)
    assert (await send_with(hook, hook.secret, event(1))).status_code == 200
    clock.advance(timedelta(seconds=DAY + 1))
    # The same process, the old secret's verifier still cached: the expiry is read at each delivery.
    refused = await send_with(hook, hook.secret, event(2))
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "invalid_signature")
    assert len(await stored(sessions)) == 1
    assert (await send_with(hook, new, event(3))).status_code == 200
    assert len(await stored(sessions)) == 2


async def test_no_event_signed_with_either_secret_is_lost_across_the_rotation(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # Cubyn keeps sending with the old secret while the rotation commits, then with both in turn.
    during = [send_with(hook, hook.secret, event(n)) for n in range(20)]
    *answers, rotation = await asyncio.gather(*during, rotate(hook))
    assert rotation.status_code == 201
    new = use_secret(rotation.json()["secret"])
    answers += await asyncio.gather(
        *(send_with(hook, new if n % 2 else hook.secret, event(n)) for n in range(20, 60))
    )
    assert [a.status_code for a in answers] == [200] * 60
    assert len(await stored(sessions)) == 60


async def test_rotating_again_drops_the_oldest_secret(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first_answer = await rotate(hook)
    first = use_secret(first_answer.json()["secret"])
    second_answer = await rotate(hook)
    assert second_answer.status_code == 201
    second = use_secret(second_answer.json()["secret"])
    later = datetime.fromisoformat(second_answer.json()["previous_secret_valid_until"])
    assert later >= datetime.fromisoformat(first_answer.json()["previous_secret_valid_until"])
    dropped = await send_with(hook, hook.secret, event(0))
    assert (dropped.status_code, dropped.json()["error"]["code"]) == (401, "invalid_signature")
    assert (await send_with(hook, first, event(1))).status_code == 200
    assert (await send_with(hook, second, event(2))).status_code == 200
    assert len(await stored(sessions)) == 2


async def test_two_rotations_at_once_both_hand_out_a_working_secret(hook: Hook) -> None:
    answers = await asyncio.gather(rotate(hook), rotate(hook))
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    secrets = [use_secret(a.json()["secret"]) for a in answers]
    # One became the current secret, the other the previous one: neither caller holds a dead secret.
    for n, secret in enumerate(secrets):
        assert (await send_with(hook, secret, event(n))).status_code == 200
    assert (await send_with(hook, hook.secret, event(9))).status_code == 401


async def test_a_disconnected_connection_is_409_and_keeps_no_secret(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await rotated_secret(hook)
    assert (await hook.client.delete(f"/v1/connections/{hook.connection_id}", headers=A)).status_code == 204
    answer = await rotate(hook)
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "connection_disconnected")
    async with sessions() as session:
        connection = await session.get_one(Connection, hook.connection_id)
    assert (connection.webhook_secret_enc, connection.previous_webhook_secret_enc) == (None, None)


async def test_another_merchants_or_an_unknown_connection_is_404_and_unchanged(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        before = (await session.get_one(Connection, hook.connection_id)).webhook_secret_enc
    assert (await rotate(hook, B)).json()["error"]["code"] == "not_found"
    for missing in ("00000000-0000-4000-8000-000000000000", "nope", "x" * 300):
        answer = await hook.client.post(f"/v1/connections/{missing}/webhook-secret", headers=A)
        assert (answer.status_code, answer.json()["error"]["code"]) == (404, "not_found")
    async with sessions() as session:
        assert (await session.get_one(Connection, hook.connection_id)).webhook_secret_enc == before
    assert (await hook.client.post(f"/v1/connections/{hook.connection_id}/webhook-secret")).status_code == 401
    # An operator may rotate any merchant's secret.
    assert (await rotate(hook, OPERATOR)).status_code == 201


async def test_the_secrets_are_encrypted_never_logged_and_never_shown_again(
    hook: Hook, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = len(LOGS.lines)
    new = await rotated_secret(hook)
    assert (await send_with(hook, hook.secret, event(1))).status_code == 200
    assert (await send_with(hook, new, event(2))).status_code == 200
    bad = await send_with(hook, "whsec_" + base64.b64encode(b"w" * 32).decode(), event(3))
    assert bad.status_code == 401
    answers = [
        await hook.client.get(f"/v1/connections/{hook.connection_id}", headers=A),
        await hook.client.get("/v1/connections", headers=A),
        await hook.client.get(f"/v1/connections/{hook.connection_id}", headers=OPERATOR),
    ]
    for answer in answers:
        assert answer.status_code == 200
        assert new not in answer.text
        assert hook.secret not in answer.text
    async with sessions() as session:
        raw = (
            await session.execute(
                text("SELECT webhook_secret_enc, previous_webhook_secret_enc FROM connections WHERE id = :id"),
                {"id": hook.connection_id},
            )
        ).one()
    assert all(value.startswith("gAAAAA") for value in raw)  # Fernet tokens
    assert not any(secret in value for secret in (new, hook.secret) for value in raw)

    written = "".join(LOGS.lines[before:])
    for secret in (new, hook.secret):
        assert secret not in written
        assert secret.removeprefix("whsec_") not in written
    lines = [json.loads(line) for line in written.splitlines() if '"webhook_received"' in line]
    outcomes = [(line["result"], line.get("signed_with")) for line in lines]
    assert outcomes == [("accepted", "previous"), ("accepted", "current"), ("invalid_signature", None)]
    assert all(line["connection_id"] == hook.connection_id for line in lines)
    assert all("payload" not in line and "SKU-" not in json.dumps(line) for line in lines)


@pytest.fixture
async def no_grace_app(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update={"webhook_secret_grace_seconds": 0}))
    async with application.router.lifespan_context(application):
        yield application


async def test_without_a_grace_period_the_old_secret_stops_at_once(
    no_grace_app: FastAPI, upstreams: Upstreams, sessions: async_sessionmaker[AsyncSession]
) -> None:
    transport = httpx.ASGITransport(app=no_grace_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        created = (await client.post("/v1/connections", json=connection_body(), headers=A)).json()
        hook = Hook(client, created["id"], use_secret(created["webhook"]["secret"]))
        answer = await rotate(hook)
        assert answer.json()["grace_period_seconds"] == 0
        new = use_secret(answer.json()["secret"])
        assert (await send_with(hook, hook.secret, PARCEL_EVENT)).status_code == 401
        assert (await send_with(hook, new, PARCEL_EVENT)).status_code == 200
    assert len(await stored(sessions)) == 1


@pytest.mark.parametrize("seconds", [-1, 7 * DAY + 1])
def test_the_grace_setting_is_bounded(settings: Settings, seconds: int) -> None:
    with pytest.raises(ValueError, match="webhook_secret_grace_seconds"):
        Settings.model_validate({**settings.model_dump(), "webhook_secret_grace_seconds": seconds})
