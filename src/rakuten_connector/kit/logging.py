"""JSON logs through structlog, with secrets redacted before anything is written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Rakuten puts the token in the query string (`pwd=`); other secrets travel in named fields.
_URL_SECRET = re.compile(r"(?i)\b(pwd|token|password|api_key|key|secret)=([^&\s\"'<>]+)")
_SECRET_FIELDS = frozenset(
    {"pwd", "token", "password", "secret", "cubyn_api_key", "api_key", "authorization", "x-application"}
)
REDACTED = "***"

# httpx/httpcore log every request URL at INFO: Rakuten URLs carry the token.
_NOISY_LOGGERS = ("httpx", "httpcore", "hpack", "uvicorn.access", "aiosqlite", "asyncio")


def redact_text(text: str) -> str:
    return _URL_SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_FIELDS:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    return value


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


class RedactingFilter(logging.Filter):
    """Applies the same redaction to records of the standard library's loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        return True


def configure_logging(level: str = "INFO", *, json: bool = True, stream: TextIO | None = None) -> None:
    """Configure structlog and the standard library's root logger; `stream` defaults to stderr."""
    out = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.setLevel(level.upper())
    handler = logging.StreamHandler(out)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers = [handler]
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
