"""Rate limits: per caller, shared through Redis by every API instance, 429 `rate_limited` with Retry-After,
and open (with a warning) when Redis is down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rakuten_connector.kit.auth import Role
from rakuten_connector.kit.rate_limits import RateLimiter, parse_rate
from rakuten_connector.main import create_app
from rakuten_connector.settings import Settings
from tests.conftest import LOGS, auth_headers
from tests.upstream_fakes import Upstreams, connection_body

MISSING = "00000000-0000-4000-8000-000000000000"
# A port nothing listens on: Redis is "down".
DOWN_REDIS_URL = "redis://127.0.0.1:9/0"

LIMITED_ROUTES: list[tuple[str, str, str]] = [
    ("rate_limit_import", "POST", f"/v1/connections/{MISSING}/imports"),
    ("rate_limit_stock_sync", "POST", f"/v1/connections/{MISSING}/stock-syncs"),
    ("rate_limit_retry", "POST", f"/v1/connections/{MISSING}/orders/p-1/retry"),
]


def _merchant() -> str:
    """A merchant of its own: counts stay in Redis for the whole run."""
    return f"m-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def _api(settings: Settings, **limits: Any) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings.model_copy(update={"rate_limits_enabled": True, **limits}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            yield app, http


def _assert_rate_limited(response: httpx.Response, window_seconds: int = 60) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window_seconds
    assert error["details"]["retry_after_seconds"] == retry_after


# -- the limiter itself -----------------------------------------------------------------------------------


async def test_the_limiter_counts_per_scope_and_caller(redis_url: str) -> None:
    limiter = RateLimiter(redis_url)
    caller = _merchant()
    try:
        decisions = [await limiter.hit("import", "3/minute", caller) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert 1 <= decisions[-1].retry_after <= 60
        assert (await limiter.hit("import", "3/minute", _merchant())).allowed  # another caller
        assert (await limiter.hit("stock_sync", "3/minute", caller)).allowed  # another scope
    finally:
        await limiter.close()


async def test_two_limiters_on_the_same_redis_share_the_count(redis_url: str) -> None:
    first, second = RateLimiter(redis_url), RateLimiter(redis_url)
    caller = _merchant()
    try:
        assert (await first.hit("retry", "2/hour", caller)).allowed
        assert (await second.hit("retry", "2/hour", caller)).allowed
        refused = await first.hit("retry", "2/hour", caller)
        assert not refused.allowed
        assert 3000 < refused.retry_after <= 3600
    finally:
        await first.close()
        await second.close()


async def test_redis_down_lets_requests_through_and_says_so() -> None:
    limiter = RateLimiter(DOWN_REDIS_URL)
    before = len(LOGS.lines)
    try:
        decisions = [await limiter.hit("import", "1/minute", _merchant()) for _ in range(3)]
    finally:
        await limiter.close()
    assert all(d.allowed for d in decisions)
    written = "".join(LOGS.lines[before:])
    assert written.count("rate_limit_unavailable") == 3
    assert '"level": "warning"' in written


@pytest.mark.parametrize("rate", ["10/minute", "100 per hour", "5/second"])
def test_rates_in_limits_notation(rate: str) -> None:
    assert parse_rate(rate).amount > 0


@pytest.mark.parametrize("rate", ["", "ten a minute", "10/fortnight"])
def test_settings_refuse_a_rate_that_is_not_one(rate: str) -> None:
    with pytest.raises(ValueError, match="is not a rate"):
        Settings(rate_limit_import=rate)


# -- through the API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "method", "path"), LIMITED_ROUTES)
async def test_the_call_after_the_limit_answers_429_and_other_merchants_go_on(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], setting: str, method: str, path: str
) -> None:
    merchant, other = auth_headers(_merchant()), auth_headers(_merchant())
    async with _api(settings, **{setting: "3/minute"}) as (_, http):
        answers = [await http.request(method, path, headers=merchant, json={}) for _ in range(3)]
        assert [a.status_code for a in answers] == [404, 404, 404]  # counted, then answered as usual
        _assert_rate_limited(await http.request(method, path, headers=merchant, json={}))
        assert (await http.request(method, path, headers=other, json={})).status_code == 404
        # Reading is never limited.
        assert (await http.get(f"/v1/connections/{MISSING}", headers=merchant)).status_code == 404


async def test_two_api_instances_share_the_count(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    merchant = auth_headers(_merchant())
    path = f"/v1/connections/{MISSING}/imports"
    async with (
        _api(settings, rate_limit_import="2/minute") as (_, first),
        _api(settings, rate_limit_import="2/minute") as (_, second),
    ):
        assert (await first.post(path, headers=merchant)).status_code == 404
        assert (await second.post(path, headers=merchant)).status_code == 404
        _assert_rate_limited(await first.post(path, headers=merchant))
        _assert_rate_limited(await second.post(path, headers=merchant))


async def test_operators_are_counted_by_subject_not_by_the_merchant_they_name(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    merchant_id = _merchant()
    operator = auth_headers(merchant_id, Role.OPERATOR, subject=f"ops-{uuid.uuid4().hex[:8]}")
    path = f"/v1/connections/{MISSING}/imports"
    async with _api(settings, rate_limit_import="1/minute") as (_, http):
        assert (await http.post(path, headers=operator)).status_code == 404
        _assert_rate_limited(await http.post(path, headers=operator))
        assert (await http.post(path, headers=auth_headers(merchant_id))).status_code == 404


async def test_connecting_is_limited_and_a_patch_counts_only_with_new_secrets(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams
) -> None:
    merchant = auth_headers(_merchant())
    async with _api(settings, rate_limit_connect="2/minute") as (_, http):
        created = await http.post("/v1/connections", json=connection_body(), headers=merchant)
        assert created.status_code == 201
        cid = created.json()["id"]
        for _ in range(3):  # renaming, pausing: no upstream call, no count
            assert (await http.patch(f"/v1/connections/{cid}", json={"name": "x"}, headers=merchant)).is_success
        rakuten_calls = upstreams.rakuten.call_count
        patch = await http.patch(f"/v1/connections/{cid}", json={"token": "rk-new"}, headers=merchant)
        assert patch.status_code == 422  # checked live (the fake refuses it): the second connect
        refused = await http.patch(f"/v1/connections/{cid}", json={"cubyn_api_key": "k-2"}, headers=merchant)
        _assert_rate_limited(refused)
        _assert_rate_limited(
            await http.post("/v1/connections", json=connection_body(seller_id="another"), headers=merchant)
        )
        assert upstreams.rakuten.call_count == rakuten_calls + 1  # the limited calls reached no one
        after = await http.get(f"/v1/connections/{cid}", headers=merchant)
        assert after.json()["name"] == "x"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/json"])
async def test_a_patch_body_nobody_can_read_is_a_4xx_and_counts_nothing(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], upstreams: Upstreams, content_type: str | None
) -> None:
    merchant = auth_headers(_merchant())
    async with _api(settings, rate_limit_connect="2/minute") as (_, http):
        cid = (await http.post("/v1/connections", json=connection_body(), headers=merchant)).json()["id"]
        headers = {**merchant, **({"content-type": content_type} if content_type else {})}
        for body in (b"[" * 5000 + b"]" * 5000, b'{"token": ' + b"9" * 5000 + b"}", b'{"token": 12345678}'):
            answer = await http.patch(f"/v1/connections/{cid}", content=body, headers=headers)
            assert 400 <= answer.status_code < 500, answer.text
            assert answer.json()["error"]["code"] in ("malformed_json", "validation_error")
        # None of them counted: the one connect left is still there.
        created = await http.post("/v1/connections", json=connection_body(seller_id="another"), headers=merchant)
        assert created.status_code == 201, created.text


async def test_limits_can_be_turned_off(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    merchant = auth_headers(_merchant())
    path = f"/v1/connections/{MISSING}/imports"
    async with _api(settings, rate_limits_enabled=False, rate_limit_import="1/minute") as (_, http):
        codes = {(await http.post(path, headers=merchant)).status_code for _ in range(3)}
    assert codes == {404}


async def test_the_api_stays_open_when_the_limiter_cannot_reach_redis(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    merchant = auth_headers(_merchant())
    path = f"/v1/connections/{MISSING}/imports"
    async with _api(settings, rate_limit_import="1/minute") as (app, http):
        await app.state.rate_limiter.close()
        app.state.rate_limiter = RateLimiter(DOWN_REDIS_URL)
        before = len(LOGS.lines)
        codes = [(await http.post(path, headers=merchant)).status_code for _ in range(3)]
    assert codes == [404, 404, 404]
    assert "rate_limit_unavailable" in "".join(LOGS.lines[before:])
