"""Rakuten France seller web services (contracts/rakuten-ws.md).

Only HTTP: typed results and typed errors; no settings, no database. The token travels as `pwd` in the
query string, so a request URL is a secret: it is never logged nor put in an exception message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from lxml import etree

_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=True
)
MAX_RESPONSE_BYTES = 50 * 1024 * 1024


class RakutenError(Exception):
    """Base of every Rakuten error. Messages never carry the token."""


class RakutenCredentialsError(RakutenError):
    """InvalidUserConnection: unknown login or token."""


class RakutenQuotaExceeded(RakutenError):
    """The hourly quota is used up: try again at `retry_at` (the next clock hour)."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RakutenPermanentError(RakutenError):
    def __init__(self, code: str, message: str, details: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or []


class RakutenTransientError(RakutenError):
    """5xx, timeouts, ServerError, unreadable answers: retry with backoff."""


def next_hour(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _text(element: etree._Element | None) -> str:
    return "" if element is None else "".join(element.itertext()).strip()


def _child(element: etree._Element, name: str) -> etree._Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def raise_for_error_document(root: etree._Element, now: datetime) -> None:
    """Raise the typed error an `errorresponse` stands for, whatever the HTTP status was."""
    if _local(root.tag) != "errorresponse":
        return
    error = _child(root, "error")
    if error is None:
        raise RakutenTransientError("Rakuten answered an error without details")
    code, message, kind = (
        _text(_child(error, "code")),
        _text(_child(error, "message")),
        _text(_child(error, "type")),
    )
    details_el = _child(error, "details")
    details = [_text(d) for d in details_el] if details_el is not None else []
    if code == "InvalidUserConnection":
        raise RakutenCredentialsError(message or "Unknown user or password.")
    if code == "InvalidUserRights" and "quota" in message.lower():
        raise RakutenQuotaExceeded(message, next_hour(now))
    if code == "ServerError" or kind.lower() == "unknown error" or "unavailable" in message.lower():
        raise RakutenTransientError(f"{code or kind}: {message}")
    raise RakutenPermanentError(code or kind or "Unknown", message, details)


def parse_document(content: bytes, now: datetime) -> etree._Element:
    try:
        root = etree.fromstring(content, parser=_SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise RakutenTransientError(f"Rakuten answered unreadable XML: {exc.msg}") from None
    raise_for_error_document(root, now)
    return root


class RakutenClient:
    """Calls for one seller. Build one per connection; `http` may be shared."""

    def __init__(
        self,
        base_url: str,
        login: str,
        token: str,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._login = login
        self._token = token
        self._http = http
        self._timeout = httpx.Timeout(timeout)

    async def _get(self, endpoint: str, action: str, version: str, **params: str) -> etree._Element:
        query = {"action": action, "login": self._login, "pwd": self._token, "version": version, **params}
        client = self._http or httpx.AsyncClient(follow_redirects=False)
        try:
            response = await client.get(
                f"{self._base_url}/{endpoint}", params=query, timeout=self._timeout, follow_redirects=False
            )
        except httpx.TimeoutException:
            raise RakutenTransientError(f"Rakuten {action} timed out") from None
        except httpx.HTTPError as exc:
            raise RakutenTransientError(f"Rakuten {action} failed: {type(exc).__name__}") from None
        finally:
            if self._http is None:
                await client.aclose()
        now = datetime.now(UTC)
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise RakutenTransientError(f"Rakuten {action} answer is too large")
        if response.content.lstrip().startswith(b"<"):
            root = parse_document(response.content, now)
            if response.status_code < 400:
                return root
        if response.status_code >= 500 or response.status_code == 429:
            raise RakutenTransientError(f"Rakuten {action} answered HTTP {response.status_code}")
        if response.status_code >= 300:
            raise RakutenPermanentError("HTTP", f"Rakuten {action} answered HTTP {response.status_code}")
        raise RakutenTransientError(f"Rakuten {action} answered something that is not XML")

    async def check_credentials(self) -> None:
        """A minimal authenticated call (getnewsales). Raises the typed error on failure."""
        await self._get("sales_ws", "getnewsales", "2017-08-07")
