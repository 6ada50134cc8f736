"""Every call to Rakuten and Cubyn timed by action and outcome, its failures counted by kind, and the item
actions on Rakuten counted by what came of them (the series are in `metrics.families`)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

from rakuten_connector.clients.cubyn_errors import (
    CubynAuthError,
    CubynInvalidResponse,
    CubynPermanentError,
    CubynRateLimited,
    CubynTransientError,
)
from rakuten_connector.clients.rakuten_errors import (
    RakutenCredentialsError,
    RakutenInvalidResponse,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from rakuten_connector.metrics.families import UPSTREAM_DURATION, UPSTREAM_ERRORS

P = ParamSpec("P")
T = TypeVar("T")

# Most precise first: a quota or an unreadable answer is also transient.
_KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((RakutenQuotaExceeded, CubynRateLimited), "quota"),
    ((RakutenCredentialsError, CubynAuthError), "credentials"),
    ((RakutenInvalidResponse, CubynInvalidResponse), "invalid_answer"),
    ((RakutenTransientError, CubynTransientError), "transient"),
    ((RakutenPermanentError, CubynPermanentError), "refused"),
)


def error_kind(exc: BaseException) -> str:
    """transient, quota, credentials, invalid_answer, refused; `error` for anything else (a bug)."""
    for types, kind in _KINDS:
        if isinstance(exc, types):
            return kind
    return "error"


class Observed:
    """`with Observed(service, action):` around one call: its duration by outcome (ok or the error kind;
    `abandoned` when the caller stopped reading or was cancelled), and its failures by kind."""

    __slots__ = ("action", "service", "started")

    def __init__(self, service: str, action: str) -> None:
        self.service = service
        self.action = action
        self.started = 0.0

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            outcome = "ok"
        elif isinstance(exc, GeneratorExit | asyncio.CancelledError):
            outcome = "abandoned"
        else:
            outcome = error_kind(exc)
            UPSTREAM_ERRORS.labels(self.service, self.action, outcome).inc()
        UPSTREAM_DURATION.labels(self.service, self.action, outcome).observe(time.perf_counter() - self.started)


def observed(service: str, action: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """The decorator form, for a client method that makes one call and reads its answer."""

    def decorate(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(method)
        async def call(*args: P.args, **kwargs: P.kwargs) -> T:
            with Observed(service, action):
                return await method(*args, **kwargs)

        return call

    return decorate
