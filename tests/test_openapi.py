"""openapi/openapi.json is generated from the app; this fails when it drifts from the code.

Regenerate with `make openapi`. The rest walks the live document of `create_app()`, so a route added later
is held to the same rules: a readable operationId, a summary and a description, every parameter described,
every error answer an `ErrorResponse`, and the bearer scheme on every route that reads the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from rakuten_connector.api_texts import OPENAPI_TAGS
from rakuten_connector.deps import current_principal, get_session
from rakuten_connector.kit.auth import SECURITY_SCHEME
from rakuten_connector.kit.errors import MALFORMED_JSON
from rakuten_connector.main import create_app
from rakuten_connector.openapi import render_openapi

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
ERROR_MODEL = "#/components/schemas/ErrorResponse"
OPERATION_ID = re.compile(r"^[a-z_]+\.[a-z_]+$")
# The routes that take no token: the probes, and Cubyn's webhook (signed instead).
PUBLIC = {"health.live", "health.ready", "webhooks.receive_cubyn_event"}

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app()


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, methods in sorted(document["paths"].items()):
        for method, operation in sorted(methods.items()):
            yield method.upper(), path, operation


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def route_calls(app: FastAPI) -> dict[tuple[str, str], set[Callable[..., Any]]]:
    """(method, path) of each documented operation -> every dependency it runs, however deep."""
    return {
        (method, route.path): set(_calls(route.dependant))
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }


def _where(method: str, path: str, operation: dict[str, Any]) -> str:
    return f"{method} {path} ({operation.get('operationId')})"


def test_committed_spec_matches_the_code() -> None:
    assert SPEC.read_text() == render_openapi(create_app()), "openapi/openapi.json is stale: run `make openapi`"


def test_spec_documents_the_connection_routes() -> None:
    paths = json.loads(SPEC.read_text())["paths"]
    assert {"post", "get"} <= set(paths["/v1/connections"])
    assert {"get", "patch", "delete"} <= set(paths["/v1/connections/{connection_id}"])


def test_the_bearer_scheme_is_declared(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"][SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert scheme["description"]


def test_every_operation_id_is_domain_dot_action_and_unique(document: dict[str, Any]) -> None:
    ids = [op.get("operationId", "") for _, _, op in operations(document)]
    bad = [i for i in ids if not OPERATION_ID.fullmatch(i)]
    assert not bad, f"operationIds not of the form <domain>.<action>: {bad}"
    assert len(ids) == len(set(ids)), f"repeated operationIds: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert {"connections.create", "connections.list", "orders.get", "orders.retry", "stock.sync"} <= set(ids)


def test_every_operation_has_a_summary_and_a_description(document: dict[str, Any]) -> None:
    bare = [_where(*o) for o in operations(document) if not (o[2].get("summary") and o[2].get("description"))]
    assert not bare, f"operations without a summary or a description: {bare}"


def test_every_parameter_is_described(document: dict[str, Any]) -> None:
    bare = [
        f"{_where(*o)}: {p['in']} {p['name']}"
        for o in operations(document)
        for p in o[2].get("parameters", [])
        if not p.get("description")
    ]
    assert not bare, f"parameters without a description: {bare}"


def test_every_error_answer_is_the_error_model(document: dict[str, Any]) -> None:
    wrong = []
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if status[0] not in "45":
                continue
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            has_example = {"example", "examples"} & set(answer.get("content", {}).get("application/json", {}))
            if schema.get("$ref") != ERROR_MODEL or not has_example or not answer.get("description"):
                wrong.append(f"{_where(method, path, operation)} {status}")
    assert not wrong, f"error answers that are not an ErrorResponse with an example: {wrong}"


def test_fastapis_validation_models_are_gone(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert "HTTPValidationError" not in text
    assert "#/components/schemas/ValidationError" not in text
    assert "ValidationError" not in document["components"]["schemas"]


def test_the_validation_answer_is_documented_as_answered(document: dict[str, Any]) -> None:
    answer = document["paths"]["/v1/connections/{connection_id}/orders"]["get"]["responses"]["422"]
    example = answer["content"]["application/json"]["example"]["error"]
    assert example["code"] == "validation_error"
    assert {"loc", "type", "msg"} == set(example["details"][0])


def test_every_route_reading_the_caller_requires_the_bearer_scheme_and_declares_401(
    app: FastAPI, document: dict[str, Any]
) -> None:
    calls, wrong = route_calls(app), []
    for method, path, operation in operations(document):
        where = _where(method, path, operation)
        authenticated = current_principal in calls[method, path]
        secured = operation.get("security") == [{SECURITY_SCHEME: []}]
        if authenticated != secured:
            wrong.append(f"{where}: reads the caller: {authenticated}, requires {SECURITY_SCHEME}: {secured}")
        if authenticated and "401" not in operation["responses"]:
            wrong.append(f"{where}: no 401")
        if not authenticated and operation["operationId"] not in PUBLIC:
            wrong.append(f"{where}: takes no token")
    assert not wrong, wrong


def test_limited_routes_declare_429_and_body_routes_400_and_413(app: FastAPI, document: dict[str, Any]) -> None:
    calls = route_calls(app)
    for method, path, operation in operations(document):
        where, answers = _where(method, path, operation), operation["responses"]
        limited = any(getattr(c, "__name__", "").startswith("rate_limit_") for c in calls[method, path])
        if limited:
            assert "429" in answers, f"{where}: rate limited, no 429"
            assert "Retry-After" in answers["429"]["headers"], where
        if "requestBody" in operation and operation["operationId"] not in PUBLIC:
            assert "413" in answers, f"{where}: takes a body, no 413"
            assert MALFORMED_JSON in json.dumps(answers["400"]), f"{where}: takes a body, no 400 malformed_json"
    # The connect limit of an update that carries new credentials is counted in the route, once the body is valid.
    assert "429" in document["paths"]["/v1/connections/{connection_id}"]["patch"]["responses"]


def test_routes_on_the_database_declare_503(app: FastAPI, document: dict[str, Any]) -> None:
    calls = route_calls(app)
    missing = [
        _where(*o)
        for o in operations(document)
        if get_session in calls[o[0], o[1]] and "database_unavailable" not in json.dumps(o[2]["responses"])
    ]
    assert not missing, f"routes using the database without a 503 database_unavailable: {missing}"


def test_every_tag_is_described(document: dict[str, Any]) -> None:
    described = {tag["name"] for tag in document["tags"] if tag.get("description")}
    used = {tag for _, _, op in operations(document) for tag in op.get("tags", [])}
    assert used <= described, f"tags without a description: {used - described}"
    assert [tag["name"] for tag in OPENAPI_TAGS] == [tag["name"] for tag in document["tags"]]


@pytest.mark.parametrize(
    "schema", ["ConnectionCreate", "ConnectionOut", "ConnectionCreated", "OrderOut", "OrderDetail", "StockItemOut"]
)
def test_the_main_schemas_carry_examples(document: dict[str, Any], schema: str) -> None:
    assert document["components"]["schemas"][schema].get("examples"), schema


def test_an_answer_with_several_codes_shows_an_example_of_each(document: dict[str, Any]) -> None:
    answers = document["paths"]["/v1/connections"]["post"]["responses"]
    for status, codes in {
        "422": {"validation_error", "rakuten_credentials_invalid"},
        "503": {"rakuten_unavailable", "database_unavailable"},
    }.items():
        examples = answers[status]["content"]["application/json"]["examples"]
        assert {e["value"]["error"]["code"] for e in examples.values()} == codes
        assert all(f"`{code}`" in answers[status]["description"] for code in codes)
    assert "Retry-After" in answers["503"]["headers"]
    assert "WWW-Authenticate" in answers["401"]["headers"]
