"""`X-Request-ID` on every answer (the caller's when sane, else a new one), once, 4xx, 413 and 500 included,
and in every log line written while the request is answered."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError

from rakuten_connector.kit.request_ids import REQUEST_ID_MAX_CHARS, is_sane_request_id
from rakuten_connector.main import create_app
from rakuten_connector.settings import Settings
from tests.conftest import LOGS, use_secret

CANARY = use_secret("CANARY-request-ids-1618")
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)

    @app.get("/test/logs")
    async def logs() -> dict[str, str]:
        structlog.get_logger("rakuten_connector.test").info("answering")
        return {}

    @app.get("/test/crash")
    async def crash() -> None:
        raise RuntimeError(f"upstream said no to https://ws.test/?pwd={CANARY}")

    @app.get("/test/database-crash")
    async def database_crash() -> None:
        # A database error that is not an outage: answered from inside the middlewares.
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def _lines_since(before: int) -> list[dict[str, Any]]:
    return [json.loads(line) for line in LOGS.lines[before:]]


def _only_id(response: httpx.Response) -> str:
    ids = response.headers.get_list("x-request-id")
    assert len(ids) == 1, ids
    return ids[0]


@pytest.mark.parametrize("sent", ["e2e-1", "0f8fad5b-d9cb-469f-a165-70867728950e", "a.b:c_D-9", "x" * 128])
async def test_a_sane_id_from_the_caller_is_kept(http: httpx.AsyncClient, sent: str) -> None:
    before = len(LOGS.lines)
    response = await http.get("/test/logs", headers={"X-Request-ID": sent})
    assert (response.status_code, _only_id(response)) == (200, sent)
    (line,) = [r for r in _lines_since(before) if r["event"] == "answering"]
    assert line["request_id"] == sent


@pytest.mark.parametrize(
    "sent", ["", "x" * (REQUEST_ID_MAX_CHARS + 1), "two words", "id\tsplit", 'quo"te', "<script>", "a/b", "é"]
)
async def test_an_insane_or_missing_id_is_replaced_by_a_new_one(http: httpx.AsyncClient, sent: str) -> None:
    before = len(LOGS.lines)
    headers = {"X-Request-ID": sent.encode()} if sent else {}
    response = await http.get("/test/logs", headers=headers)
    new_id = _only_id(response)
    assert GENERATED.fullmatch(new_id)
    (line,) = [r for r in _lines_since(before) if r["event"] == "answering"]
    assert line["request_id"] == new_id
    assert not is_sane_request_id(sent)


async def test_every_answer_gets_a_new_id(http: httpx.AsyncClient) -> None:
    ids = {_only_id(await http.get("/test/logs")) for _ in range(5)}
    assert len(ids) == 5


async def test_error_answers_carry_the_id_once(http: httpx.AsyncClient, settings: Settings) -> None:
    answers = {
        404: await http.get("/v1/nothing-here", headers={"X-Request-ID": "r-404"}),
        405: await http.put("/v1/connections", headers={"X-Request-ID": "r-405"}),
        401: await http.get("/v1/connections", headers={"X-Request-ID": "r-401"}),
        413: await http.post(
            "/v1/webhooks/cubyn/x", content=b"x" * (settings.max_body_bytes + 1), headers={"X-Request-ID": "r-413"}
        ),
    }
    for status, response in answers.items():
        assert response.status_code == status
        assert _only_id(response) == f"r-{status}"


async def test_an_unhandled_error_is_logged_with_its_traceback_and_its_id_on_the_500(
    http: httpx.AsyncClient,
) -> None:
    before = len(LOGS.lines)
    response = await http.get("/test/crash", headers={"X-Request-ID": "r-crash"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert _only_id(response) == "r-crash"
    (line,) = [r for r in _lines_since(before) if r["event"] == "unhandled_error"]
    assert (line["request_id"], line["path"], line["level"]) == ("r-crash", "/test/crash", "error")
    (error,) = line["exception"]
    assert (error["exc_type"], error["exc_value"]) == (
        "RuntimeError",
        "upstream said no to https://ws.test/?pwd=***",
    )
    assert "crash" in [frame["name"] for frame in error["frames"]]
    assert CANARY not in "".join(LOGS.lines[before:])


async def test_a_database_error_answered_from_inside_carries_the_id_once(http: httpx.AsyncClient) -> None:
    before = len(LOGS.lines)
    response = await http.get("/test/database-crash")
    assert response.status_code == 500
    request_id = _only_id(response)
    assert GENERATED.fullmatch(request_id)
    (line,) = [r for r in _lines_since(before) if r["event"] == "unhandled_error"]
    assert line["request_id"] == request_id
    assert line["exception"][0]["exc_type"] == "IntegrityError"
