"""The HTTP side of the Rakuten client: one exchange per call, read within bounds into the XML reader.

The token travels as `pwd` in the query string, so a request URL is a secret: it is never logged nor put
in an exception message (httpx's own URL logging is turned down and redacted; every error is scrubbed).
Every answer is read in chunks into a safe streaming parser (`rakuten_reader`), with a per-request timeout, a
total deadline, a size cap (`bounded`) and no redirects.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import TypeVar

import httpx
import structlog
from pydantic import SecretStr

from rakuten_connector.clients.bounded import AnswerTooLarge, AnswerTooSlow, bounded_stream
from rakuten_connector.clients.observed import Observed
from rakuten_connector.clients.rakuten_errors import (
    RakutenAnswerLost,
    RakutenError,
    RakutenInvalidResponse,
    RakutenPermanentError,
    RakutenTransientError,
)
from rakuten_connector.clients.rakuten_reader import DocumentReader
from rakuten_connector.clients.rakuten_xml import Element, next_token
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.logging import RedactingFilter

T = TypeVar("T")
log = structlog.get_logger(__name__)

MAX_RESPONSE_BYTES = 50 * 1024 * 1024
# Failures before anything reached Rakuten: nothing was done there. Every other failure may have been.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
VERSIONS = {
    "getnewsales": "2017-08-07",
    "getcurrentsales": "2017-08-07",
    "acceptsale": "2021-04-08",
    "refusesale": "2010-09-20",
    "getiteminfos": "2017-08-07",
    "cancelitem": "2011-02-02",
    "settrackingpackageinfos": "2016-03-16",
    "importitemshippingstatus": "2016-05-09",
    "export": "2018-06-29",
    "genericimportfile": "2015-02-02",
    "genericimportreport": "2017-02-10",
}

# httpx logs every request URL at INFO and Rakuten URLs carry the token.
for _name in ("httpx", "httpcore", "httpcore.http11", "httpcore.http2", "httpcore.connection"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(max(_logger.level, logging.WARNING))
    if not any(isinstance(f, RedactingFilter) for f in _logger.filters):
        _logger.addFilter(RedactingFilter())


class RakutenTransport:
    """Calls for one seller. Build one per connection; `http` may be shared (its own settings are ignored
    for redirects and timeouts: every call passes its own)."""

    def __init__(
        self,
        base_url: str,
        seller_id: str,
        token: SecretStr,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
        deadline: float | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._seller_id = seller_id
        self._token = token
        self._http = http
        self._timeout = httpx.Timeout(timeout)
        self._deadline = deadline if deadline is not None else 3 * timeout
        self._max_bytes = max_response_bytes
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, seller_id={self._seller_id!r})"

    # -- plumbing ---------------------------------------------------------------------------------------

    async def _stream(
        self,
        endpoint: str,
        action: str,
        reader: DocumentReader[T],
        params: Mapping[str, str] | None = None,
        file: tuple[str, bytes] | None = None,
    ) -> AsyncIterator[T]:
        """One HTTP exchange; yields `reader`'s elements as they arrive, leaves the rest in `reader.rest`."""
        http = self._http or httpx.AsyncClient(follow_redirects=False)
        started = time.monotonic()
        try:
            with Observed("rakuten", action):
                async for item in self._exchange(http, endpoint, action, reader, params, file):
                    yield item
        finally:
            if self._http is None:
                await http.aclose()
        log.debug("rakuten_call", action=action, seconds=round(time.monotonic() - started, 3))

    async def _exchange(
        self,
        http: httpx.AsyncClient,
        endpoint: str,
        action: str,
        reader: DocumentReader[T],
        params: Mapping[str, str] | None,
        file: tuple[str, bytes] | None,
    ) -> AsyncIterator[T]:
        status = 0
        try:
            async with bounded_stream(
                http,
                "POST" if file else "GET",
                f"{self._base_url}/{endpoint}",
                max_bytes=self._max_bytes,
                deadline=self._deadline,
                params=self._query(action, params),
                files={"file": (file[0], file[1], "text/xml")} if file else None,
                timeout=self._timeout,
                follow_redirects=False,
            ) as (response, chunks):
                status = response.status_code
                ok = 200 <= status < 300
                reader.fallback_encoding = reader.fallback_encoding or response.charset_encoding
                try:
                    async for chunk in self._chunks(chunks, action):
                        items = reader.feed(chunk)
                        if ok:
                            for item in items:
                                yield item
                    reader.close(self._clock())
                except RakutenInvalidResponse:
                    if ok:
                        raise
                    raise _status_error(action, status) from None
                if not ok:
                    raise _status_error(action, status)
        except AnswerTooSlow:  # before the headers came
            raise RakutenAnswerLost(f"Rakuten {action} took longer than {self._deadline:g} s") from None
        except NEVER_SENT as exc:
            raise RakutenTransientError(f"Rakuten {action} could not be reached: {type(exc).__name__}") from None
        except httpx.TimeoutException:
            raise RakutenAnswerLost(f"Rakuten {action} timed out") from None
        except httpx.HTTPError as exc:
            raise RakutenAnswerLost(f"Rakuten {action} failed: {type(exc).__name__}") from None
        except RakutenError as exc:
            exc.scrub(self._token.get_secret_value())
            log.info("rakuten_call_failed", action=action, status=status, error=type(exc).__name__)
            raise

    def _query(self, action: str, params: Mapping[str, str] | None) -> dict[str, str]:
        # The token is revealed here only, into the request, in no variable a traceback with locals could show.
        return {
            "action": action,
            "login": self._seller_id,  # Rakuten's name for the seller login the connector calls seller_id
            "pwd": self._token.get_secret_value(),
            "version": VERSIONS[action],
            **(params or {}),
        }

    async def _chunks(self, chunks: AsyncIterator[bytes], action: str) -> AsyncIterator[bytes]:
        """The body; an answer too large is invalid (or, with an error status, that status)."""
        try:
            async for chunk in chunks:
                yield chunk
        except AnswerTooLarge:
            raise RakutenInvalidResponse(f"Rakuten {action} answer exceeds {self._max_bytes} bytes") from None
        except AnswerTooSlow:
            raise RakutenAnswerLost(f"Rakuten {action} took longer than {self._deadline:g} s") from None

    async def _call(
        self,
        endpoint: str,
        action: str,
        params: Mapping[str, str] | None = None,
        file: tuple[str, bytes] | None = None,
    ) -> Element:
        reader: DocumentReader[None] = DocumentReader()
        async for _ in self._stream(endpoint, action, reader, params, file):
            pass
        assert reader.rest is not None
        return reader.rest

    async def _pages(
        self, endpoint: str, action: str, reader_factory: Callable[[], DocumentReader[T]], params: dict[str, str]
    ) -> AsyncIterator[tuple[T | None, Element | None]]:
        """Every page until `nexttoken` comes back empty: (element, None)... then (None, rest) per page."""
        seen: set[str] = set()
        while True:
            reader = reader_factory()
            async for element in self._stream(endpoint, action, reader, params):
                yield element, None
            assert reader.rest is not None
            yield None, reader.rest
            token = next_token(reader.rest)
            if not token:
                return
            if token in seen:
                raise RakutenInvalidResponse(f"Rakuten {action} repeated a page token")
            seen.add(token)
            params = {**params, "nexttoken": token}


def _status_error(action: str, status: int) -> RakutenError:
    if status >= 500:  # a gateway's 502/504 says nothing of what the server behind it did
        return RakutenAnswerLost(f"Rakuten {action} answered HTTP {status}")
    if status in (408, 429):
        return RakutenTransientError(f"Rakuten {action} answered HTTP {status}")
    if 300 <= status < 400:
        return RakutenPermanentError("HTTP", f"Rakuten {action} answered a redirect (HTTP {status}), not followed")
    return RakutenPermanentError("HTTP", f"Rakuten {action} answered HTTP {status}")
