"""Settings: production refuses missing, development or weak secrets and unsafe URLs, naming the fields
without echoing their values."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from rakuten_connector.settings import DEVELOPMENT_JWT_SECRET, DEVELOPMENT_SECRET_KEY, AppEnv, Settings

REAL_JWT = "kX9#pQ2$vL7!mN4&zR8*tY3@wB6^hJ1%"
PRODUCTION_DB = "postgresql+asyncpg://app@db.internal/rakuten"
PRODUCTION_URL = "https://connector.example.com"


def test_defaults_work_for_development() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite+aiosqlite")
    assert settings.import_interval_seconds == 300
    assert settings.stock_push_min_interval_seconds == 360
    assert settings.rakuten_shipping_from_country == "249"
    assert settings.rakuten_transporter_name == "Cubyn"


@pytest.mark.parametrize(
    ("keys", "jwt_secret"),
    [
        (DEVELOPMENT_SECRET_KEY, REAL_JWT),
        (None, REAL_JWT),
        ("KEY", DEVELOPMENT_JWT_SECRET),
        ("KEY", None),
        ("KEY", "short"),
        ("KEY", "r" * 40),
        ("KEY", "ab" * 20),
        ("KEY", "abcdefgh" * 5),
        (f"KEY,{DEVELOPMENT_SECRET_KEY}", REAL_JWT),
    ],
)
def test_production_refuses_missing_or_development_secrets(
    monkeypatch: pytest.MonkeyPatch, keys: str | None, jwt_secret: str | None
) -> None:
    production(monkeypatch)
    monkeypatch.delenv("SECRET_KEYS", raising=False)
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    if keys:
        monkeypatch.setenv("SECRET_KEYS", keys.replace("KEY", Fernet.generate_key().decode()))
    if jwt_secret:
        monkeypatch.setenv("AUTH_JWT_SECRET", jwt_secret)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """A valid production environment, for each test to spoil one thing of."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEYS", f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}")
    monkeypatch.setenv("AUTH_JWT_SECRET", REAL_JWT)
    monkeypatch.setenv("DATABASE_URL", PRODUCTION_DB)
    monkeypatch.setenv("PUBLIC_BASE_URL", PRODUCTION_URL)


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.app_env is AppEnv.PRODUCTION
    assert len(settings.fernet_keys) == 2
    assert settings.docs_served is False
    assert settings.metrics_port is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "sqlite+aiosqlite:///./rakuten_connector.db"),
        ("DATABASE_URL", "SQLite:///prod.db"),
        ("PUBLIC_BASE_URL", "http://connector.example.com"),
        ("PUBLIC_BASE_URL", "https://localhost:8443"),
        ("PUBLIC_BASE_URL", "https://127.0.0.1"),
        ("PUBLIC_BASE_URL", "https://127.1.2.3/x"),
        ("PUBLIC_BASE_URL", "https://[::1]:8000"),
        ("PUBLIC_BASE_URL", "https://shop.localhost"),
        ("PUBLIC_BASE_URL", "https://"),
        ("PUBLIC_BASE_URL", "not a url"),
    ],
)
def test_production_refuses_unsafe_urls(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    production(monkeypatch)
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert name in str(caught.value)


def test_production_errors_name_every_bad_field_and_echo_no_value(monkeypatch: pytest.MonkeyPatch) -> None:
    production(monkeypatch)
    weak = "weak-CANARY-" + "a" * 30
    monkeypatch.setenv("AUTH_JWT_SECRET", weak)
    monkeypatch.setenv("DATABASE_URL", "sqlite+aiosqlite:///CANARY-db-path.db")
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://CANARY-host.example")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    text = f"{caught.value}\n{caught.value!r}\n{caught.value.errors(include_input=False)}"
    for name in ("AUTH_JWT_SECRET", "DATABASE_URL", "PUBLIC_BASE_URL"):
        assert name in text
    assert "CANARY" not in text


def test_a_bad_field_value_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEYS", "CANARY-not-a-fernet-key")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "CANARY" not in f"{caught.value}\n{caught.value!r}"
    monkeypatch.setenv("METRICS_PORT", "CANARY")
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "CANARY" not in str(caught.value)


@pytest.mark.parametrize(("env", "default"), [("development", True), ("test", True), ("production", False)])
def test_docs_default_on_except_in_production(monkeypatch: pytest.MonkeyPatch, env: str, default: bool) -> None:
    production(monkeypatch)
    monkeypatch.setenv("APP_ENV", env)
    assert Settings(_env_file=None).docs_served is default  # type: ignore[call-arg]
    monkeypatch.setenv("DOCS_ENABLED", str(not default).lower())
    assert Settings(_env_file=None).docs_served is (not default)  # type: ignore[call-arg]


@pytest.mark.parametrize("port", ["0", "65536", "-1"])
def test_metrics_port_must_be_a_port(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("METRICS_PORT", port)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_keys_that_are_not_fernet_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, secret_keys="not-a-key")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("given", "stored"),
    [("DEBUG", "DEBUG"), ("info", "INFO"), (" Warning ", "WARNING"), ("error", "ERROR"), ("critical", "CRITICAL")],
)
def test_log_level_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch, given: str, stored: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", given)
    assert Settings(_env_file=None).log_level == stored  # type: ignore[call-arg]


@pytest.mark.parametrize("given", ["bogus", "", "WARN", "FATAL", "10", "info,debug", "CANARY-level"])
def test_an_unknown_log_level_is_refused_naming_the_choices(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", given)
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None)  # type: ignore[call-arg]
    text = str(caught.value)
    assert "log_level" in text
    assert "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in text
    assert "CANARY" not in text
