"""JSON logs through structlog, with secrets redacted before anything is written."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Rakuten puts the token in the query string (`pwd=`); other secrets travel in named fields, and show up in
# the text of exceptions and tracebacks as `key=value`, as a mapping's `'key': 'value'` or as a header.
_SECRET_FIELDS = frozenset(
    {"pwd", "token", "password", "secret", "cubyn_api_key", "api_key", "authorization", "x-application"}
)
_URL_SECRET = re.compile(r"(?i)\b(pwd|token|password|api_key|key|secret)=([^&\s\"'<>]+)")
_FIELD_NAMES = "|".join(re.escape(name) for name in sorted(_SECRET_FIELDS))
_QUOTED_SECRET = re.compile(
    rf"""(?i)(?P<head>(?P<q>['"])(?:{_FIELD_NAMES})(?P=q)\s*:\s*(?P<vq>['"]))(?P<value>.*?)(?P=vq)"""
)
# A URL's password: from `scheme://user:` to the last `@` of the URL (a password may hold `?`, `#`, `/`
# or `@`: the database drivers read it that way).
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^\s]*@")
_HEADER_SECRET = re.compile(r"(?i)\b(authorization|x-application)(:\s*)(bearer\s+|basic\s+)?([^\s\"',;]+)")
REDACTED = "***"

# httpx/httpcore log every request URL at INFO: Rakuten URLs carry the token.
_NOISY_LOGGERS = ("httpx", "httpcore", "hpack", "uvicorn.access", "aiosqlite", "asyncio")
# Values rendered as they are; anything else is shown through its (redacted) repr.
_PLAIN = (int, float, bool, type(None))


def redact_text(text: str) -> str:
    """`text` without the secrets it may carry in a URL, a mapping's repr or a header line."""
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    text = _URL_SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    text = _QUOTED_SECRET.sub(lambda m: f"{m.group('head')}{REDACTED}{m.group('vq')}", text)
    return _HEADER_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) or ''}{REDACTED}", text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_FIELDS:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value("", v) for v in value]
    if isinstance(value, _PLAIN):
        return value
    # Exceptions, URLs, requests...: their repr may carry a secret (renderers would print it as is).
    return redact_text(repr(value))


def redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


class RedactingFilter(logging.Filter):
    """Applies the same redaction to records of the standard library's loggers: the message, the exception
    text (the traceback with its chained causes) and the stack, whichever handler formats them next (for
    loggers whose records may reach handlers other than ours; ours formats with `RedactingFormatter`)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # Formatters print `exc_text` when it is set instead of formatting `exc_info` again.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (message, traceback, stack) is redacted, whatever reached it."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


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
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers = [handler]
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
