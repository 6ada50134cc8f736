"""Settings read from the environment (and `.env`)."""

from __future__ import annotations

import ipaddress
import math
from collections import Counter
from enum import StrEnum
from functools import lru_cache
from typing import Self
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from limits import parse as parse_rate
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rakuten_connector.kit.auth import DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER, TokenPolicy
from rakuten_connector.kit.backoff import Backoff

# Well-known values that make local runs work out of the box. Production refuses them.
DEVELOPMENT_SECRET_KEY = "ZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2UtaW4tcHI="  # noqa: S105
DEVELOPMENT_JWT_SECRET = "development-jwt-secret-do-not-use-in-production"  # noqa: S105
# A production JWT secret: long, varied and unpredictable enough (Shannon estimate over its characters).
JWT_SECRET_MIN_CHARS = 32
JWT_SECRET_MIN_DISTINCT = 10
JWT_SECRET_MIN_BITS = 100
# What LOG_LEVEL accepts, in any case (stored upper-case); anything else is refused when settings load.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Who signs the API's tokens and whom they are for (the `iss` and `aud` claims every token must carry).


class AppEnv(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class Settings(BaseSettings):
    # An error names the field, never its value (it may be a secret).
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    app_env: AppEnv = AppEnv.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./rakuten_connector.db"
    redis_url: str = "redis://localhost:6379/0"
    secret_keys: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    auth_jwt_secret: SecretStr = SecretStr(DEVELOPMENT_JWT_SECRET)
    auth_jwt_issuer: str = Field(default=DEFAULT_JWT_ISSUER, min_length=1)
    auth_jwt_audience: str = Field(default=DEFAULT_JWT_AUDIENCE, min_length=1)
    # The longest a token may live (`exp - iat`): a leaked token is useless after this.
    auth_jwt_max_lifetime_seconds: int = Field(default=86_400, ge=60)
    public_base_url: str = "http://localhost:8000"
    rakuten_base_url: str = "https://ws.fr.shopping.rakuten.com"
    cubyn_api_url: str = "https://api.cubyn.com/v2"
    cubyn_tracking_url_template: str = "https://www.track.cubyn.com/{tracking_id}"
    rakuten_transporter_name: str = "Cubyn"
    rakuten_shipping_from_country: str = "249"
    import_interval_seconds: int = Field(default=300, ge=1)
    stock_push_min_interval_seconds: int = Field(default=360, ge=1)
    stock_report_poll_seconds: float = Field(default=20.0, gt=0)
    stock_lost_upload_hold_seconds: float = Field(default=1800.0, ge=0, le=86400)
    stock_clock_skew_seconds: float = Field(default=120.0, ge=0, le=3600)
    stock_file_max_skus: int = Field(default=50_000, ge=1)
    stock_full_sync_enabled: bool = True
    stock_full_sync_hour: int = Field(default=2, ge=0, le=23)
    upstream_timeout_seconds: float = Field(default=20.0, gt=0)
    # Waits before trying again (exponential, full jitter: attempt n waits up to min(cap, base * 2**(n-1))).
    retry_job_base_seconds: float = Field(default=2.0, gt=0)
    retry_job_cap_seconds: float = Field(default=60.0, gt=0)
    retry_job_max_tries: int = Field(default=8, ge=1, le=100)
    retry_order_base_seconds: float = Field(default=10.0, gt=0)
    retry_order_cap_seconds: float = Field(default=1800.0, gt=0)
    retry_order_max_attempts: int = Field(default=12, ge=1, le=1000)
    retry_import_base_seconds: float = Field(default=15.0, gt=0)
    retry_import_cap_seconds: float = Field(default=240.0, gt=0)
    retry_stock_base_seconds: float = Field(default=10.0, gt=0)
    retry_stock_cap_seconds: float = Field(default=1800.0, gt=0)
    retry_stock_sync_max_attempts: int = Field(default=5, ge=1, le=100)
    # How long a worker's hold on a connection or an order lasts without renewal (a killed worker's
    # work is taken over after this).
    lease_seconds: int = Field(default=60, ge=2)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # How long a rotated webhook secret still verifies events, so Cubyn can switch secrets without losing
    # any (at most a week: an old secret must not stay usable for long).
    webhook_secret_grace_seconds: int = Field(default=86_400, ge=0, le=7 * 86_400)
    # Per caller (a merchant, an operator), shared by every API replica through Redis; `limits` notation.
    rate_limits_enabled: bool = True
    rate_limit_connect: str = "10/minute"
    rate_limit_import: str = "10/minute"
    rate_limit_stock_sync: str = "10/minute"
    rate_limit_retry: str = "60/minute"
    log_level: str = "INFO"
    # /docs, /redoc and /openapi.json: unset means on, except in production (see `docs_served`).
    docs_enabled: bool | None = None
    # When set, `rakuten-connector api` and `worker` serve /metrics on this port (the API no longer on its own).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("log_level", mode="before")
    @classmethod
    def _check_log_level(cls, value: object) -> str:
        level = value.strip().upper() if isinstance(value, str) else ""
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)} (in any case)")
        return level

    @field_validator("rate_limit_connect", "rate_limit_import", "rate_limit_stock_sync", "rate_limit_retry")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        try:
            parse_rate(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a rate such as '10/minute' or '100 per hour'") from exc
        return value

    @model_validator(mode="after")
    def _check_secrets(self) -> Self:
        keys = self.fernet_keys
        if not keys:
            raise ValueError("SECRET_KEYS must hold at least one Fernet key")
        for key in keys:
            try:
                Fernet(key)
            except ValueError as exc:
                raise ValueError("SECRET_KEYS holds a value that is not a Fernet key") from exc
        if self.app_env is AppEnv.PRODUCTION:
            problems = self._production_problems(keys)
            if problems:
                raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _check_backoffs(self) -> Self:
        for name in ("job", "order", "import", "stock"):
            if getattr(self, f"retry_{name}_base_seconds") > getattr(self, f"retry_{name}_cap_seconds"):
                raise ValueError(
                    f"RETRY_{name.upper()}_BASE_SECONDS must not exceed RETRY_{name.upper()}_CAP_SECONDS"
                )
        return self

    @property
    def token_policy(self) -> TokenPolicy:
        """What a bearer token must say to be accepted by this deployment."""
        return TokenPolicy(self.auth_jwt_issuer, self.auth_jwt_audience, self.auth_jwt_max_lifetime_seconds)

    @property
    def job_backoff(self) -> Backoff:
        """A job that failed on something passing (arq `Retry`)."""
        return Backoff(self.retry_job_base_seconds, self.retry_job_cap_seconds, self.retry_job_max_tries)

    @property
    def order_backoff(self) -> Backoff:
        """An order whose parcel could not be created yet (its `next_check_at`)."""
        return Backoff(self.retry_order_base_seconds, self.retry_order_cap_seconds, self.retry_order_max_attempts)

    @property
    def import_backoff(self) -> Backoff:
        """A connection whose poll failed (its `next_import_at`); never longer than the import interval."""
        cap = min(self.retry_import_cap_seconds, self.import_interval_seconds)
        return Backoff(min(self.retry_import_base_seconds, cap), cap)

    @property
    def stock_backoff(self) -> Backoff:
        """A connection's stock file or report that failed, and a full sync's interrupted read."""
        return Backoff(
            self.retry_stock_base_seconds, self.retry_stock_cap_seconds, self.retry_stock_sync_max_attempts
        )

    @property
    def docs_served(self) -> bool:
        if self.docs_enabled is None:
            return self.app_env is not AppEnv.PRODUCTION
        return self.docs_enabled

    def _production_problems(self, keys: list[str]) -> list[str]:
        """What production refuses, each naming its setting and never its value."""
        problems = []
        if DEVELOPMENT_SECRET_KEY in keys:
            problems.append("SECRET_KEYS still holds the development key")
        jwt_secret = self.auth_jwt_secret.get_secret_value()
        if jwt_secret == DEVELOPMENT_JWT_SECRET or not strong_secret(jwt_secret):
            problems.append(
                f"AUTH_JWT_SECRET must be a random secret of at least {JWT_SECRET_MIN_CHARS} characters "
                f"with at least {JWT_SECRET_MIN_DISTINCT} different ones"
            )
        if self.database_url.strip().lower().startswith("sqlite"):
            problems.append("DATABASE_URL must not be SQLite (use PostgreSQL)")
        if not public_url_is_safe(self.public_base_url):
            problems.append("PUBLIC_BASE_URL must be an https URL that is not this machine (localhost)")
        return problems

    @property
    def fernet_keys(self) -> list[str]:
        return [k.strip() for k in self.secret_keys.get_secret_value().split(",") if k.strip()]

    def webhook_url(self, connection_id: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/v1/webhooks/cubyn/{connection_id}"


def strong_secret(secret: str) -> bool:
    counts = Counter(secret)
    bits = -sum(n * math.log2(n / len(secret)) for n in counts.values()) if secret else 0.0
    return (
        len(secret) >= JWT_SECRET_MIN_CHARS
        and len(counts) >= JWT_SECRET_MIN_DISTINCT
        and bits >= JWT_SECRET_MIN_BITS
    )


def public_url_is_safe(url: str) -> bool:
    """https, with a host that is not a loopback name or address."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if parts.scheme != "https" or not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name


@lru_cache
def get_settings() -> Settings:
    return Settings()
