"""Log lines never carry a secret: messages, fields, tracebacks (chained too) and stacks are all redacted."""

from __future__ import annotations

import io
import logging

import pytest
import structlog
from pydantic import SecretStr

from rakuten_connector.kit.logging import RedactingFilter, configure_logging, redact_text
from tests.conftest import LOGS, use_secret

CANARY = use_secret("CANARY-kit-logging-2718")
URL = f"https://ws.fr.shopping.rakuten.com/sales_ws?action=getnewsales&login=shop&pwd={CANARY}&version=1"


class UpstreamFailed(Exception):
    pass


def _fail_chained() -> None:
    """An error about a URL, handled by raising another one that shows the query as a dict."""
    try:
        raise ConnectionError(f"GET {URL} failed")
    except ConnectionError as exc:
        raise UpstreamFailed(f"query was {{'pwd': '{CANARY}', 'login': 'shop'}}") from exc


def _written_since(before: int) -> str:
    return "".join(LOGS.lines[before:])


@pytest.fixture
def written() -> list[int]:
    """Where the session's log capture stood before the test."""
    return [len(LOGS.lines)]


def test_stdlib_tracebacks_are_redacted_with_their_chained_causes(written: list[int]) -> None:
    try:
        _fail_chained()
    except UpstreamFailed:
        logging.getLogger("rakuten_connector.test").exception("call failed for %s", URL, stack_info=True)
    text = _written_since(written[0])
    assert "UpstreamFailed" in text
    assert "ConnectionError" in text  # the cause was printed too
    assert "Stack (most recent call last)" in text
    assert CANARY not in text
    assert "pwd=***" in text
    assert "'pwd': '***'" in text


def test_structlog_exc_info_and_exception_values_are_redacted(written: list[int]) -> None:
    log = structlog.get_logger("rakuten_connector.test")
    try:
        _fail_chained()
    except UpstreamFailed as exc:
        log.exception("call_failed", error=exc, cause=exc.__cause__, key=SecretStr(CANARY))
        log.error("call_failed_again", exc_info=exc)
    text = _written_since(written[0])
    assert text.count("UpstreamFailed") >= 3
    assert "ConnectionError" in text
    assert CANARY not in text


def test_records_handled_elsewhere_get_redacted_text_through_the_filter() -> None:
    """A handler that is not ours (pytest's caplog, uvicorn's) still gets redacted exception text."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("rakuten_connector.test.elsewhere")
    logger.addHandler(handler)
    try:
        try:
            _fail_chained()
        except UpstreamFailed:
            logger.exception("failed", stack_info=True)
        logger.error(UpstreamFailed(f"https://ws.test/?pwd={CANARY}"))  # a message that is not a string
    finally:
        logger.removeHandler(handler)
    assert "UpstreamFailed" in stream.getvalue()
    assert CANARY not in stream.getvalue()


def test_console_rendering_is_redacted_too() -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", json=False, stream=stream)
    try:
        try:
            _fail_chained()
        except UpstreamFailed:
            structlog.get_logger().exception("call_failed", url=URL)
            logging.getLogger("rakuten_connector.test").exception("call failed")
    finally:
        configure_logging("DEBUG", stream=LOGS)
    assert stream.getvalue().count("UpstreamFailed") >= 2
    assert CANARY not in stream.getvalue()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"?login=a&pwd={CANARY}&version=1", "?login=a&pwd=***&version=1"),
        (f"{{'pwd': '{CANARY}', 'login': 'a'}}", "{'pwd': '***', 'login': 'a'}"),
        (f'{{"token": "{CANARY}"}}', '{"token": "***"}'),
        (f"Headers({{'x-application': '{CANARY}'}})", "Headers({'x-application': '***'})"),
        (f"Authorization: Bearer {CANARY}", "Authorization: Bearer ***"),
        ("nothing secret here: key words", "nothing secret here: key words"),
        (f"postgresql+asyncpg://app:{CANARY}?x/y#z@db:5432/rc", "postgresql+asyncpg://app:***@db:5432/rc"),
        (f"redis://:{CANARY}#@redis:6379/0", "redis://:***@redis:6379/0"),
        ("https://cubyn.test/v2", "https://cubyn.test/v2"),
    ],
)
def test_redact_text_knows_urls_mappings_and_headers(text: str, expected: str) -> None:
    assert redact_text(text) == expected
