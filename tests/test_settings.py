"""Settings: production refuses missing or development secrets."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from rakuten_connector.settings import DEVELOPMENT_JWT_SECRET, DEVELOPMENT_SECRET_KEY, AppEnv, Settings

REAL_JWT = "r" * 40


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
        (f"KEY,{DEVELOPMENT_SECRET_KEY}", REAL_JWT),
    ],
)
def test_production_refuses_missing_or_development_secrets(
    monkeypatch: pytest.MonkeyPatch, keys: str | None, jwt_secret: str | None
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEYS", raising=False)
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    if keys:
        monkeypatch.setenv("SECRET_KEYS", keys.replace("KEY", Fernet.generate_key().decode()))
    if jwt_secret:
        monkeypatch.setenv("AUTH_JWT_SECRET", jwt_secret)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = f"{Fernet.generate_key().decode()}, {Fernet.generate_key().decode()}"
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEYS", keys)
    monkeypatch.setenv("AUTH_JWT_SECRET", REAL_JWT)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.app_env is AppEnv.PRODUCTION
    assert len(settings.fernet_keys) == 2


def test_keys_that_are_not_fernet_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(_env_file=None, secret_keys="not-a-key")  # type: ignore[call-arg]
