"""Cubyn's errors: `CubynAuthError` (401, wrong key), `CubynTransientError` (5xx, timeouts, network;
`CubynRateLimited` carries `Retry-After`; `CubynInvalidResponse`: an answer that cannot be read),
`CubynPermanentError` (any other 4xx; subclasses `CubynInvalidFields`, `CubynNotFound`, `CubynNotCancellable`)."""

from __future__ import annotations

from collections.abc import Sequence

from rakuten_connector.clients.cubyn_models import FieldError


class CubynError(Exception):
    """Base of every Cubyn error. Messages never carry the key."""


class CubynAuthError(CubynError):
    """401: the application key is wrong."""


class CubynTransientError(CubynError):
    """5xx, timeouts, network errors: retry with backoff."""


class CubynInvalidResponse(CubynTransientError):
    """The answer cannot be read: too large, not arrived before the deadline, not JSON, nested too deep."""


class CubynRateLimited(CubynTransientError):
    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CubynPermanentError(CubynError):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.message = message


class CubynInvalidFields(CubynPermanentError):
    """400 on create: Cubyn refused some fields (`errors` lists them)."""

    def __init__(self, message: str, errors: Sequence[FieldError]) -> None:
        fields = ", ".join(e.field for e in errors) or "unknown fields"
        super().__init__(400, f"{message} ({fields})")
        self.errors = list(errors)


class CubynNotFound(CubynPermanentError):
    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class CubynNotCancellable(CubynPermanentError):
    """409 on cancel: the warehouse already processes the parcel."""

    def __init__(self, message: str) -> None:
        super().__init__(409, message)
