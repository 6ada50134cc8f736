"""Live credential checks against Rakuten and Cubyn, turned into the API's errors."""

from __future__ import annotations

from typing import Protocol

import httpx
from pydantic import SecretStr

from rakuten_connector.clients.cubyn import (
    CubynAuthError,
    CubynClient,
    CubynError,
    CubynPermanentError,
    CubynTransientError,
)
from rakuten_connector.clients.rakuten import (
    RakutenClient,
    RakutenCredentialsError,
    RakutenError,
    RakutenPermanentError,
    RakutenQuotaExceeded,
    RakutenTransientError,
)
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.settings import Settings


class CredentialChecker(Protocol):
    async def check_rakuten(self, seller_id: str, token: SecretStr) -> None: ...

    async def check_cubyn(self, api_key: SecretStr) -> None: ...


class LiveCredentialChecker:
    """Calls Rakuten (getnewsales) and Cubyn (`GET /`); raises ApiError with the API's error codes."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._http = http

    async def check_rakuten(self, seller_id: str, token: SecretStr) -> None:
        client = RakutenClient(
            self._settings.rakuten_base_url,
            seller_id,
            token,
            http=self._http,
            timeout=self._settings.upstream_timeout_seconds,
        )
        try:
            await client.check_credentials()
        except RakutenCredentialsError:
            raise ApiError(
                422, "rakuten_credentials_invalid", "Rakuten refused this seller ID and token."
            ) from None
        except RakutenQuotaExceeded as exc:
            retry_after = max(1, int((exc.retry_at - utcnow()).total_seconds()))
            raise ApiError(
                503,
                "rakuten_unavailable",
                "Rakuten's hourly request quota for this seller is used up; try again after the next hour.",
                {"retry_at": exc.retry_at.isoformat()},
                headers={"Retry-After": str(retry_after)},
            ) from None
        except RakutenPermanentError as exc:
            raise ApiError(
                422,
                "rakuten_credentials_invalid",
                "Rakuten accepted the login but refused the call: the account may lack web-service rights.",
                {"rakuten_code": exc.code, "rakuten_message": exc.message},
            ) from None
        except (RakutenTransientError, RakutenError):
            raise ApiError(503, "rakuten_unavailable", "Rakuten did not answer; nothing was saved.") from None

    async def check_cubyn(self, api_key: SecretStr) -> None:
        client = CubynClient(
            self._settings.cubyn_api_url,
            api_key,
            http=self._http,
            timeout=self._settings.upstream_timeout_seconds,
        )
        try:
            await client.check_key()
        except CubynAuthError:
            raise ApiError(422, "cubyn_credentials_invalid", "Cubyn refused this application key.") from None
        except CubynPermanentError as exc:
            if exc.status_code == 403:
                raise ApiError(422, "cubyn_credentials_invalid", "Cubyn refused this application key.") from None
            raise ApiError(503, "cubyn_unavailable", "Cubyn answered unexpectedly; nothing was saved.") from None
        except (CubynTransientError, CubynError):
            raise ApiError(503, "cubyn_unavailable", "Cubyn did not answer; nothing was saved.") from None
