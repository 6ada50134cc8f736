"""The Rakuten token through a failing call: no log line, traceback or traceback with locals shows it."""

from __future__ import annotations

import io
import logging
import traceback

import httpx
import pytest
import respx
import structlog
from pydantic import SecretStr
from rich.console import Console
from rich.traceback import Traceback

from rakuten_connector.clients.rakuten import RakutenClient, RakutenTransientError
from tests.conftest import LOGS, use_secret

BASE = "https://ws.example.test"
CANARY = use_secret("CANARY-rakuten-traceback-1618")


class ImportFailed(Exception):
    pass


def _refuse(request: httpx.Request) -> httpx.Response:
    # What a transport error says: the URL, token included.
    raise httpx.ConnectError(f"cannot reach {request.url}", request=request)


async def _failing_call() -> BaseException:
    """The error a caller gets, chained into the caller's own error as an importer would."""
    client = RakutenClient(BASE, "boutique", SecretStr(CANARY), timeout=2.0)
    with respx.mock() as mock:
        mock.get(f"{BASE}/sales_ws").mock(side_effect=_refuse)
        try:
            try:
                await client.get_new_sales()
            except RakutenTransientError as exc:
                raise ImportFailed("the import of boutique failed") from exc
        except ImportFailed as exc:
            assert mock.calls.call_count == 1
            assert CANARY in str(mock.calls.last.request.url)  # the token was really sent
            return exc
    raise AssertionError("the call did not fail")


async def test_a_logged_failing_call_shows_no_token_in_any_log_line() -> None:
    error = await _failing_call()
    before = len(LOGS.lines)
    logging.getLogger("rakuten_connector.test").error("import failed", exc_info=error)
    structlog.get_logger("rakuten_connector.test").error("import_failed", exc_info=error, error=error)
    with_locals = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    logging.getLogger("rakuten_connector.test").error("import failed:\n%s", with_locals)
    written = "".join(LOGS.lines[before:])
    assert written.count("ImportFailed") >= 3
    assert written.count("RakutenTransientError") >= 3  # the chained cause is in the text
    assert CANARY not in written


@pytest.mark.parametrize("renderer", ["stdlib", "rich"])
async def test_tracebacks_with_locals_show_no_token(renderer: str) -> None:
    """Not even unredacted: no frame of ours holds the token in a plain variable."""
    error = await _failing_call()
    if renderer == "stdlib":
        text = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    else:
        out = io.StringIO()
        console = Console(file=out, width=200, color_system=None)
        console.print(Traceback.from_exception(type(error), error, error.__traceback__, show_locals=True))
        text = out.getvalue()
    assert "_stream" in text  # the client's frames are there, with their locals
    assert "self" in text
    assert CANARY not in text
