"""What the control APIs of both simulators share: every JSON body is a pydantic model that refuses the
fields it does not know (`ControlBody`), read by `read_body`.

An empty body counts as `{}`. A body that is not JSON raises `MalformedBody`, one that does not fit the
model pydantic's `ValidationError`; each simulator answers both in its own error style (`field_errors`
flattens the pydantic errors for those answers). A client that goes away before its body has come whole (a
killed worker, a call given up) raises `ClientGone`, which both simulators answer with `client_gone`: a bare
400 nobody reads, instead of an unhandled error.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response


class ControlBody(BaseModel):
    """A control API body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class StatusIn(ControlBody):
    """Force any status (both simulators have a route for it)."""

    status: str = Field(min_length=1)


B = TypeVar("B", bound=BaseModel)


class MalformedBody(Exception):
    """The body is not JSON."""


class ClientGone(Exception):
    """The client went away before its whole body came."""


async def client_gone(_: Request, exc: Exception) -> Response:
    """The answer to a `ClientGone`: a bare 400 (the client is not there to read it)."""
    return Response(status_code=400)


async def read_json(request: Request) -> Any:
    """The body as JSON (`{}` when empty)."""
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise ClientGone("the client went away before its body came") from None
    try:
        return json.loads(raw or b"{}")
    except ValueError:  # UnicodeDecodeError included
        raise MalformedBody("the body is not JSON") from None


async def read_body(request: Request, model: type[B]) -> B:
    """The body validated by `model` (`ValidationError` when it does not fit)."""
    return model.model_validate(await read_json(request))


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """`[{"field": "items[0].sku", "message": ...}]`, one entry per pydantic error."""
    errors = []
    for error in exc.errors():
        path = ""
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
        errors.append({"field": path or "body", "message": error["msg"]})
    return errors
