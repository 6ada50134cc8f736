"""One JSON log stream through structlog, with secrets redacted before anything is written.

structlog's events and the standard library's records (arq, uvicorn, alembic, asyncio, httpx) go through
the root handler and the same processors: context variables (the worker's job, the request's
`request_id`), level, logger name, UTC timestamp, tracebacks as data, redaction. One JSON object per line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
import structlog.tracebacks

from rakuten_connector.kit.request_ids import current_request_id

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
# A URL's password and a header need `:`, a query parameter `=`, a mapping's repr quotes.
_MAY_HOLD_SECRET = re.compile("[=:'\"]")

# httpx/httpcore log every request URL at INFO: Rakuten URLs carry the token.
_NOISY_LOGGERS = ("httpx", "httpcore", "hpack", "uvicorn.access", "aiosqlite", "asyncio")
_THIRD_PARTY_LOGGERS = ("arq", "arq.worker", "arq.jobs", "uvicorn", "uvicorn.error", "uvicorn.access", "alembic")
# What ProcessorFormatter carries along with a record (the record itself), never rendered.
_FORMATTER_KEYS = frozenset({"_record", "_from_structlog"})
# Values rendered as they are; anything else is shown through its (redacted) repr.
_PLAIN = (int, float, bool, type(None))


def redact_text(text: str) -> str:
    """`text` without the secrets it may carry in a URL, a mapping's repr or a header line."""
    if not _MAY_HOLD_SECRET.search(text):
        return text  # every pattern below needs one of these characters: most values (ids, words) skip them
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
        if key not in _FORMATTER_KEYS:
            event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


class RedactingFilter(logging.Filter):
    """Applies the same redaction to records of the standard library's loggers: the message, the exception
    text (the traceback with its chained causes) and the stack, whichever handler formats them next (for
    loggers whose records may reach handlers other than ours; ours redacts every field it renders)."""

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


def add_request_id(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The id of the HTTP request being answered (`kit/request_ids.py`), on every line written for it."""
    request_id = current_request_id()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def _record_stack(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A standard library record's stack (already text) under the key structlog's own events use."""
    stack = event_dict.pop("stack_info", None)
    if stack:
        event_dict["stack"] = stack
    return event_dict


# What every line gets, whichever logger wrote it. `add_logger_name` reads a record's name, or the name of
# the standard library logger structlog's events go through.
_SHARED: tuple[Any, ...] = (
    structlog.contextvars.merge_contextvars,
    add_request_id,
    structlog.processors.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
)
# Tracebacks as data (each exception of the chain with its frames), then redacted like any other field.
# Never the frames' local variables: they hold tokens, keys and whole requests.
_STRUCTURED_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
)


def configure_logging(level: str = "INFO", *, json: bool = True, stream: TextIO | None = None) -> None:
    """One stream for every logger, structlog's and the standard library's (arq, uvicorn, alembic, asyncio):
    the same processors, one JSON object per line (`json=False`: the console renderer, for humans), on
    `stream` (stderr by default)."""
    out = stream or sys.stderr
    tracebacks = _STRUCTURED_TRACEBACKS if json else structlog.processors.format_exc_info
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.processors.StackInfoRenderer(),
            tracebacks,
            redact_processor,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # A record of the standard library arrives as its message, exception and stack: the same steps
            # structlog's events went through, then the same renderer.
            foreign_pre_chain=[*_SHARED, _record_stack, tracebacks, redact_processor],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.setLevel(level.upper())
    root.handlers = [handler]
    # Python's warnings are printed on stderr by default: as log lines, they stay in the stream.
    logging.captureWarnings(True)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # arq and uvicorn log through these: no handler of their own, so their records reach ours, at our level
    # (a uvicorn started earlier with its own `log_level` leaves it on its loggers).
    for name in _THIRD_PARTY_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
        if name not in _NOISY_LOGGERS:
            logger.setLevel(logging.NOTSET)


def outcome_line(logger_name: str, event: str, *, level: str = "info", **fields: Any) -> str:
    """A command's outcome (printed whatever LOG_LEVEL says, even before logging is set up) as a JSON line
    shaped like the log lines, with the same fields and redaction."""
    logger = logging.getLogger(logger_name)
    event_dict: MutableMapping[str, Any] = {"event": event, **fields}
    for processor in (*_SHARED, redact_processor):
        event_dict = processor(logger, level, event_dict)
    return str(structlog.processors.JSONRenderer(ensure_ascii=False)(logger, level, event_dict))
