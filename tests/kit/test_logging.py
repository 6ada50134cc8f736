"""Log lines never carry a secret: messages, fields, tracebacks (chained too) and stacks are all redacted."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog
from asgi_correlation_id import correlation_id
from pydantic import SecretStr

from rakuten_connector.kit.logging import RedactingFilter, configure_logging, outcome_line, redact_text
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


class JsonStream(io.StringIO):
    def records(self) -> list[dict[str, Any]]:
        """Each line as the JSON object it must be."""
        text = self.getvalue()
        assert text.endswith("\n")
        return [json.loads(line) for line in text.split("\n")[:-1]]


@pytest.fixture
def stream() -> Iterator[JsonStream]:
    """The JSON set-up on a stream of the test's own (what it wrote is checked with the session's lines)."""
    stream = JsonStream()
    configure_logging("DEBUG", stream=stream)
    try:
        yield stream
    finally:
        configure_logging("DEBUG", stream=LOGS)
        LOGS.write(stream.getvalue())


def _assert_line_fields(record: dict[str, Any], event: str, level: str, logger: str) -> None:
    assert (record["event"], record["level"], record["logger"]) == (event, level, logger)
    stamp = datetime.fromisoformat(record["timestamp"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(stamp.tzinfo) - stamp) < timedelta(minutes=5)


def test_standard_library_records_are_json_lines_like_structlog_events(stream: JsonStream) -> None:
    logging.getLogger("arq.worker").info("Starting worker for %d functions: %s", 3, "cron:schedule_imports")
    logging.getLogger("arq.jobs").info("%6.2fs → %s", 0.25, "cron:heartbeat()")
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("alembic.runtime.migration").info("Will assume transactional DDL.")
    logging.getLogger("asyncio").warning("Executing %s took %.3f seconds", "<Task>", 0.5)
    structlog.get_logger("rakuten_connector.test").info("job_done", job_id="j1", token=CANARY)
    arq, jobs, uvicorn, alembic, slow, ours = stream.records()
    _assert_line_fields(arq, "Starting worker for 3 functions: cron:schedule_imports", "info", "arq.worker")
    _assert_line_fields(jobs, "  0.25s → cron:heartbeat()", "info", "arq.jobs")
    _assert_line_fields(uvicorn, "Started server process [42]", "info", "uvicorn.error")
    _assert_line_fields(alembic, "Will assume transactional DDL.", "info", "alembic.runtime.migration")
    _assert_line_fields(slow, "Executing <Task> took 0.500 seconds", "warning", "asyncio")
    _assert_line_fields(ours, "job_done", "info", "rakuten_connector.test")
    assert (ours["job_id"], ours["token"]) == ("j1", "***")
    # Text is written as it is (operators grep arq's arrows), one line per object all the same.
    assert "→ cron:heartbeat()" in stream.getvalue()
    assert CANARY not in stream.getvalue()


def test_a_requests_id_is_on_every_line_written_while_it_is_answered(stream: JsonStream) -> None:
    def answer_request() -> None:
        correlation_id.set("req-42")
        structlog.get_logger("rakuten_connector.test").info("in_request")
        logging.getLogger("uvicorn.error").error("Exception in ASGI application")

    contextvars.copy_context().run(answer_request)
    structlog.get_logger("rakuten_connector.test").info("outside")
    inside, stdlib, outside = stream.records()
    assert inside["request_id"] == stdlib["request_id"] == "req-42"
    assert "request_id" not in outside


def _fail_with_everything() -> None:
    """A token in the message of a cause, of a context (an error while handling another), in a note, and in
    a local variable of the failing frame."""
    token = CANARY
    try:
        _fail_chained()
    except UpstreamFailed:
        error = RuntimeError(f"retry failed: Authorization: Bearer {token}")
        error.add_note(f"while calling {URL}")
        raise error  # noqa: B904  # the error it was handling is its context, not its cause


def _exception_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    exception: list[dict[str, Any]] = record["exception"]
    return exception


@pytest.mark.parametrize("source", ["stdlib", "structlog"])
def test_tracebacks_are_structured_and_redacted_with_their_causes(stream: JsonStream, source: str) -> None:
    try:
        _fail_with_everything()
    except RuntimeError:
        if source == "stdlib":
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        else:
            structlog.get_logger("rakuten_connector.test").exception("unhandled_error")
    (record,) = stream.records()
    assert record["level"] == "error"
    chain = _exception_of(record)
    assert [e["exc_type"] for e in chain] == ["RuntimeError", "UpstreamFailed", "ConnectionError"]
    assert chain[0]["exc_value"] == "retry failed: Authorization: Bearer ***"
    assert chain[0]["exc_notes"] == [URL.replace(CANARY, "***").join(["while calling ", ""])]
    assert chain[1]["exc_value"] == "query was {'pwd': '***', 'login': 'shop'}"
    assert chain[2]["is_cause"] is True
    assert "pwd=***" in chain[2]["exc_value"]
    frames = [frame for e in chain for frame in e["frames"]]
    assert "_fail_with_everything" in [frame["name"] for frame in frames]
    assert all(not frame.get("locals") for frame in frames)  # a frame's variables hold secrets
    assert "Traceback (most recent call last)" not in stream.getvalue()
    assert CANARY not in stream.getvalue()


def test_an_exception_group_is_structured_and_redacted(stream: JsonStream) -> None:
    try:
        raise ExceptionGroup("two calls failed", [ValueError(f"GET {URL}"), KeyError(f"token={CANARY}")])
    except ExceptionGroup:
        structlog.get_logger("rakuten_connector.test").exception("calls_failed")
    (record,) = stream.records()
    (group,) = _exception_of(record)
    inner = [e["exc_value"] for nested in group["exceptions"] for e in nested]
    assert len(inner) == 2
    assert all("***" in value for value in inner)
    assert CANARY not in stream.getvalue()


def test_a_records_stack_is_kept_and_redacted(stream: JsonStream) -> None:
    logging.getLogger("arq.worker").warning("slow call to %s", URL, stack_info=True)
    (record,) = stream.records()
    assert record["event"] == URL.replace(CANARY, "***").join(["slow call to ", ""])
    assert record["stack"].startswith("Stack (most recent call last)")
    assert "test_a_records_stack_is_kept_and_redacted" in record["stack"]
    assert CANARY not in stream.getvalue()


def test_a_commands_outcome_is_a_line_like_the_others() -> None:
    line = outcome_line("rakuten_connector.cli.serve", "database is up to date", revision="abc", pwd=CANARY)
    assert "\n" not in line
    record = json.loads(line)
    _assert_line_fields(record, "database is up to date", "info", "rakuten_connector.cli.serve")
    assert (record["revision"], record["pwd"]) == ("abc", "***")
    assert json.loads(outcome_line("x", "invalid_settings", level="error"))["level"] == "error"


@pytest.mark.parametrize(
    "text",
    [
        "https://user:hunter2@db.example/x",
        "GET /sales_ws?action=getnewsales&pwd=hunter2",
        "{'token': 'hunter2'}",
        "Authorization: Bearer hunter2",
        "x-application:hunter2",
    ],
)
def test_text_without_any_sign_a_secret_needs_is_left_alone_and_with_one_is_redacted(text: str) -> None:
    assert "hunter2" not in redact_text(text)
    plain = "6f1c8a2e-3b7d-4c1e msg_2Lh4 parcel.updated hunter2"
    assert redact_text(plain) is plain
