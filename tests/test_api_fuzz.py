"""API fuzzing on PostgreSQL: every operation of the OpenAPI document driven by schemathesis with generated
input that fits the schema and input that does not, as a merchant and as an operator, against the real API
served with both sandboxes. No answer may be a 5xx, and every 4xx is in the error shape."""

from __future__ import annotations

import asyncio
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from rakuten_connector.kit.auth import Role
from rakuten_connector.models import Base
from rakuten_connector.settings import Settings
from tests.conftest import auth_headers
from tests.e2e.world import MERCHANT, World, sale, wait_for, world

OPENAPI = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
SCHEMA = schemathesis.openapi.from_path(str(OPENAPI))
EXAMPLES_PER_OPERATION = 40


@dataclass
class FuzzTarget:
    """The API on a real socket in a thread of its own (schemathesis calls it synchronously), with one
    connected shop so that generated paths sometimes reach a real connection and its orders."""

    base_url: str = ""
    connection_id: str = ""
    purchase_id: str = ""
    cases: int = 0
    server_errors: list[str] = field(default_factory=list)


def _serve_in_thread(base: Settings, target: FuzzTarget, ready: threading.Event, stop: threading.Event) -> None:
    async def main() -> None:
        async with world(base) as w:
            target.base_url = w.settings.public_base_url
            target.connection_id = await w.connect()
            await w.add_sales(sale("Normal", ["SKU-1"]), sale("Suivi", ["SKU-2", "SKU-3"]))
            answer = await w.api.post(f"/v1/connections/{target.connection_id}/imports", headers=w.headers)
            assert answer.status_code == 202, answer.text
            await wait_for(lambda: _first_order(w), what="an imported order")
            target.purchase_id = (await w.orders())[0]["purchase_id"]
            ready.set()
            await asyncio.to_thread(stop.wait)

    try:
        asyncio.run(main())
    finally:
        ready.set()


@pytest.fixture(scope="module")
def fuzz_target(
    settings: Settings, test_db_kind: str, engine: AsyncEngine, request: pytest.FixtureRequest
) -> Iterator[FuzzTarget]:
    if test_db_kind != "postgresql":
        pytest.skip("the API is fuzzed on PostgreSQL, which refuses more than SQLite (NUL, ranges)")
    target, ready, stop = FuzzTarget(), threading.Event(), threading.Event()
    thread = threading.Thread(target=_serve_in_thread, args=(settings, target, ready, stop), daemon=True)
    thread.start()
    assert ready.wait(120), "the fuzzed API did not start"
    assert target.connection_id, "the fuzzed API could not connect its shop"
    yield target
    stop.set()
    thread.join(60)
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\napi fuzz: {target.cases} cases, {len(target.server_errors)} answers 5xx")
    asyncio.run(_empty_tables(engine.url.render_as_string(hide_password=False)))


async def _empty_tables(url: str) -> None:
    from rakuten_connector.db import create_engine

    engine = create_engine(url)
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))
    await engine.dispose()


async def _first_order(w: World) -> bool:
    return bool(await w.orders())


def _aim(case: Any, target: FuzzTarget) -> None:
    """Half of the generated ids become the real connection's and order's, so the routes behind them are
    reached with everything else still generated."""
    parameters = case.path_parameters or {}
    if zlib.crc32(repr((case.query, case.body)).encode()) % 2:
        return
    if "connection_id" in parameters:
        parameters["connection_id"] = target.connection_id
    if "purchase_id" in parameters:
        parameters["purchase_id"] = target.purchase_id


def _check(case: Any, response: Any, target: FuzzTarget) -> None:
    target.cases += 1
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    if response.status_code >= 500:
        target.server_errors.append(where)
    assert response.status_code < 500, f"{where}: {response.text[:500]}"
    if 400 <= response.status_code < 500:
        error = response.json().get("error")
        assert isinstance(error, dict), f"{where}: not in the error shape: {response.text[:300]}"
        assert isinstance(error.get("code"), str), where
        assert isinstance(error.get("message"), str), where


@pytest.mark.parametrize("role", [Role.MERCHANT, Role.OPERATOR])
@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_answers_5xx_and_every_4xx_is_in_the_error_shape(
    case: Any, role: Role, fuzz_target: FuzzTarget
) -> None:
    _aim(case, fuzz_target)
    headers = auth_headers(MERCHANT, role)
    response = case.call(base_url=fuzz_target.base_url, headers=headers, timeout=30)
    _check(case, response, fuzz_target)
