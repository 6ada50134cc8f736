"""The typed errors of the Rakuten client.

| error | when | what the caller does |
|---|---|---|
| `RakutenCredentialsError` | `InvalidUserConnection` | mark the credentials invalid, stop calling |
| `RakutenQuotaExceeded` | `InvalidUserRights` + "Quota exceeded." | back off this seller until `retry_at` |
| `RakutenPermanentError` | other `InvalidUserRights`, `ParameterError`, unexpected HTTP codes | record it |
| `RakutenItemStateError` | a per-item action refused and the item is not in the wanted state | act on `item_status` |
| `RakutenTransientError` | `ServerError`, Rakuten unreachable (the request never left) | retry with backoff |
| `RakutenAnswerLost` | the request left but no readable answer came: timeout, dropped connection, 5xx | retry; an upload may have been taken |
| `RakutenInvalidResponse` | an answer that is not readable, safe XML (truncated, garbled, too large, DTD) | as `RakutenAnswerLost` |

No message ever carries the token: the client scrubs it from every error it raises.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rakuten_connector.kit.logging import REDACTED, redact_text


class RakutenError(Exception):
    """Base of every Rakuten error. Messages never carry the token."""

    def scrub(self, secret: str) -> None:
        """Remove `secret` (and any `pwd=...`) from everything this error shows."""
        self.args = tuple(_scrub(a, secret) if isinstance(a, str) else a for a in self.args)


def _scrub(text: str, secret: str) -> str:
    if secret:
        text = text.replace(secret, REDACTED)
    return redact_text(text)


class RakutenCredentialsError(RakutenError):
    """InvalidUserConnection: unknown login or token."""


class RakutenQuotaExceeded(RakutenError):
    """The hourly quota is used up: try again at `retry_at` (the next clock hour, UTC, aware)."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class RakutenPermanentError(RakutenError):
    """Rakuten refused the call for a reason retrying will not fix."""

    def __init__(self, code: str, message: str, details: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or []

    def scrub(self, secret: str) -> None:
        super().scrub(secret)
        self.message = _scrub(self.message, secret)
        self.details = [_scrub(d, secret) for d in self.details]


class RakutenItemStateError(RakutenPermanentError):
    """A per-item action was refused and the item is not already in the wanted state.

    `item_status` is the item's real status read back with getiteminfos (e.g. `CANCELLED` when the buyer
    cancelled, `TO_CONFIRM` when tracking is pushed before acceptance).
    """

    def __init__(
        self, code: str, message: str, details: list[str] | None = None, *, item_id: str, item_status: str
    ) -> None:
        super().__init__(code, message, details)
        self.item_id = item_id
        self.item_status = item_status


class RakutenTransientError(RakutenError):
    """Worth trying again later: ServerError, Rakuten unreachable, and every lost answer (`RakutenAnswerLost`)."""


class RakutenAnswerLost(RakutenTransientError):
    """The request went out but no readable answer came back: Rakuten may have carried it out (a stock file
    may have been taken, and applied later, without the connector knowing its import id)."""


class RakutenInvalidResponse(RakutenAnswerLost):
    """The answer is not a readable, safe XML document (truncated, garbled, too large, DTD...)."""


def next_hour(now: datetime) -> datetime:
    """The start of the next clock hour, in UTC (Rakuten's quota window)."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
