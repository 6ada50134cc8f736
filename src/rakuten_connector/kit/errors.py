"""One error shape for every answer: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error the API answers with on purpose."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


class NotFound(ApiError):
    def __init__(self, what: str = "resource") -> None:
        super().__init__(404, "not_found", f"{what} not found")


MALFORMED_JSON = "malformed_json"
MALFORMED_JSON_MESSAGE = "The request body is not valid JSON."
# What reading a JSON body may raise: not JSON or not UTF-8 (ValueError), a number too long to convert
# (ValueError), nested deeper than the parser's recursion limit (RecursionError).
JSON_PARSE_ERRORS = (ValueError, RecursionError)


def malformed_json(details: Any = None) -> ApiError:
    return ApiError(400, MALFORMED_JSON, MALFORMED_JSON_MESSAGE, details)


def parse_json_body(body: bytes) -> Any:
    """A request body read as JSON, or a 400 `malformed_json` (the same answer FastAPI's routes give)."""
    try:
        return json.loads(body)
    except JSON_PARSE_ERRORS:
        raise malformed_json() from None


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class ErrorInfo(BaseModel):
    code: str = Field(
        description="What went wrong, in a stable machine-readable word (`not_found`, `validation_error`, "
        "`rate_limited`...): branch on it, not on the message."
    )
    message: str = Field(description="The same in a sentence for a person; its wording may change.")
    details: Any = Field(
        default=None,
        description="More about it when there is more: for `validation_error` the list of problems "
        "(`loc`: where, `type`, `msg`), for `rate_limited` the scope, the limit and the seconds to wait.",
    )


class ErrorResponse(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [error_body("not_found", "connection not found")]},
    )

    error: ErrorInfo


RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
}
WWW_AUTHENTICATE = {"WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}}


@dataclass(frozen=True)
class ErrorAnswer:
    """One error a route may answer with, as its OpenAPI document shows it: the code, an example message
    (also the answer's description) and details, and the headers that come with it."""

    code: str
    message: str
    details: Any = None
    headers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


# A route's errors: {status: (code, message)} or {status: ErrorAnswer}.
ErrorAnswers = Mapping[int, tuple[str, str] | ErrorAnswer]


def _as_answer(answer: tuple[str, str] | ErrorAnswer) -> ErrorAnswer:
    return answer if isinstance(answer, ErrorAnswer) else ErrorAnswer(*answer)


def _response(answers: list[ErrorAnswer]) -> dict[str, Any]:
    content: dict[str, Any]
    if len(answers) == 1:
        description = answers[0].message
        content = {"example": error_body(answers[0].code, answers[0].message, answers[0].details)}
    else:
        description = "\n".join(f"- `{a.code}`: {a.message}" for a in answers)
        examples: dict[str, Any] = {}
        for answer in answers:
            name = answer.code if answer.code not in examples else f"{answer.code}_{len(examples)}"
            value = error_body(answer.code, answer.message, answer.details)
            examples[name] = {"summary": answer.message, "value": value}
        content = {"examples": examples}
    response: dict[str, Any] = {
        "description": description,
        "model": ErrorResponse,
        "content": {"application/json": content},
    }
    headers = {name: dict(header) for answer in answers for name, header in answer.headers.items()}
    if headers:
        response["headers"] = headers
    return response


def error_responses(*groups: ErrorAnswers) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of a route's errors, each a `$ref` to `ErrorResponse` with examples. Groups
    may share a status: its answer then lists every code, each with its own example."""
    by_status: dict[int, list[ErrorAnswer]] = {}
    for group in groups:
        for status, answer in group.items():
            by_status.setdefault(status, []).append(_as_answer(answer))
    return {status: _response(answers) for status, answers in sorted(by_status.items())}


NOT_FOUND = {404: ("not_found", "No such connection (or not the caller's), or nothing of that id in it.")}
FORBIDDEN = {403: ("forbidden", "Operators only.")}
CONNECTION_DISCONNECTED = {
    409: ("connection_disconnected", "The connection is disconnected: nothing of it runs any more.")
}
CONNECTION_UNUSABLE = (
    "connection_paused",
    "The connection is paused, disconnected (`connection_disconnected`) or its credentials were refused "
    "(`connection_credentials_invalid`).",
)
UNAUTHORIZED = {
    401: ErrorAnswer(
        "unauthorized",
        "No bearer token, or one this API does not accept (expired, wrongly signed, not issued for it).",
        headers=WWW_AUTHENTICATE,
    )
}
VALIDATION_MESSAGE = "The request is not valid."
VALIDATION_ERROR = {
    422: ErrorAnswer(
        "validation_error",
        VALIDATION_MESSAGE,
        [
            {
                "loc": ["body", "stock_buffer"],
                "type": "greater_than_equal",
                "msg": "Input should be greater than or equal to 0",
            }
        ],
    )
}
MALFORMED_BODY = {400: (MALFORMED_JSON, MALFORMED_JSON_MESSAGE)}
PAYLOAD_TOO_LARGE = {413: ("payload_too_large", "The request body is larger than the limit (`MAX_BODY_BYTES`).")}
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable right now. Try again shortly."
DATABASE_UNAVAILABLE = {
    503: ErrorAnswer("database_unavailable", DATABASE_UNAVAILABLE_MESSAGE, headers=RETRY_AFTER)
}
# What any route reading a JSON body may also answer.
BODY_ERRORS: ErrorAnswers = {**MALFORMED_BODY, **PAYLOAD_TOO_LARGE}
# What every route under `/v1/connections/{connection_id}` may answer: it reads the caller's connection first.
CONNECTION_READ_ERRORS = (UNAUTHORIZED, NOT_FOUND, DATABASE_UNAVAILABLE)


def error_response(
    status_code: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status_code, content=jsonable_encoder(error_body(code, message, details)), headers=headers
    )


# A location names a field, or a key of a JSON object: a key is the caller's text, of any length.
LOC_PART_MAX = 64


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        # Never echo the rejected input back: it may be a secret (a key is echoed, clipped, to say which).
        loc = [str(p)[:LOC_PART_MAX] for p in err.get("loc", ())]
        details.append({"loc": loc, "type": err.get("type"), "msg": err.get("msg")})
    return details


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, JSON_PARSE_ERRORS):
        # FastAPI could not parse the JSON body (nested too deep, a number too long): a bare 400 from the parser.
        return error_response(400, MALFORMED_JSON, MALFORMED_JSON_MESSAGE)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, None, getattr(exc, "headers", None))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _validation_details(exc)
    if any(d["type"] == "json_invalid" for d in details):
        return error_response(400, MALFORMED_JSON, MALFORMED_JSON_MESSAGE, details)
    return error_response(422, "validation_error", VALIDATION_MESSAGE, details)


# PostgreSQL's "cannot reach / cannot use the database right now": connection exceptions (class 08), shut
# down or starting up (57P01-57P03), too many connections, and a database not accepting connections
# (ALLOW_CONNECTIONS false answers 55000).
_UNAVAILABLE_SQLSTATES = frozenset({"53300", "55000", "57P01", "57P02", "57P03"})
DATABASE_RETRY_AFTER_SECONDS = 5


def sqlstate(exc: DBAPIError) -> str:
    """The SQLSTATE code PostgreSQL gave the error ("" when there is none, as on SQLite)."""
    for cause in (exc.orig, getattr(exc.orig, "__cause__", None)):
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str):
            return state
    return ""


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached or used right now (not that a statement is
    wrong): the same work succeeds once it is back, so it is worth retrying."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        state = sqlstate(exc)
        return state.startswith("08") or state in _UNAVAILABLE_SQLSTATES
    # A refused or reset socket, raised by the driver while connecting (not wrapped by SQLAlchemy).
    return isinstance(exc, ConnectionError)


def refuses_values(exc: BaseException) -> bool:
    """The database refused a value of the statement (out of range, bad text): trying again cannot help.
    SQLite raises OverflowError itself; asyncpg's data exceptions (SQLSTATE class 22: out of range, a NUL
    the encoding refuses...) reach SQLAlchemy as a plain DBAPIError."""
    if isinstance(exc, DataError | OverflowError):
        return True
    return isinstance(exc, DBAPIError) and sqlstate(exc).startswith("22")


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if not is_database_unavailable(exc):
        return await _unexpected_error(request, exc)
    log.warning("database_unavailable", path=request.url.path, error_type=type(exc).__name__)
    return error_response(
        503,
        "database_unavailable",
        DATABASE_UNAVAILABLE_MESSAGE,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    from rakuten_connector.kit.request_ids import request_id_header

    # The traceback (structured and redacted by the logging set-up) with the request's id. Starlette sends
    # this answer from outside every middleware: the id goes on it here.
    log.error("unhandled_error", path=request.url.path, error_type=type(exc).__name__, exc_info=exc)
    return error_response(500, "internal_error", "An unexpected error occurred.", headers=request_id_header())


_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_COMPONENTS = "#/components/schemas/"


def _validation_answer() -> dict[str, Any]:
    answer = _response([_as_answer(VALIDATION_ERROR[422])])
    del answer["model"]
    answer["content"]["application/json"]["schema"] = {"$ref": _COMPONENTS + ErrorResponse.__name__}
    return answer


def _error_model_schemas() -> dict[str, Any]:
    schema = ErrorResponse.model_json_schema(ref_template=_COMPONENTS + "{model}", mode="serialization")
    return {**schema.pop("$defs", {}), ErrorResponse.__name__: schema}


def describe_validation_errors(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents the 422 it adds to every route with input as its own `HTTPValidationError`; the
    answer is the one `_validation_error` gives, in the error shape: the document says so (in place)."""
    replaced = False
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") == _COMPONENTS + "HTTPValidationError":
                operation["responses"]["422"] = _validation_answer()
                replaced = True
    schemas = document.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    if replaced and ErrorResponse.__name__ not in schemas:
        document.setdefault("components", {}).setdefault("schemas", {}).update(_error_model_schemas())
    return document


def _document_errors_as_answered(app: FastAPI) -> None:
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        return describe_validation_errors(generate())

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the document


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error in the error shape, and make the OpenAPI document say so."""
    _document_errors_as_answered(app)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(ConnectionError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
