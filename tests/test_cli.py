"""The `rakuten-connector` command."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from rakuten_connector.cli import app
from rakuten_connector.kit.auth import ALGORITHM, Role, TokenPolicy, decode_token
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.settings import get_settings
from tests.conftest import LOGS

runner = CliRunner()


@pytest.mark.parametrize(("args", "role"), [([], "merchant"), (["--role", "operator"], "operator")])
def test_token_prints_a_jwt_the_api_accepts(args: list[str], role: str) -> None:
    result = runner.invoke(app, ["token", "--merchant-id", "m-42", *args])
    assert result.exit_code == 0, result.output
    settings = get_settings()
    secret = settings.auth_jwt_secret.get_secret_value()
    principal = decode_token(secret, result.output.strip(), TokenPolicy.from_settings(settings))
    assert (principal.merchant_id, principal.role) == ("m-42", Role(role))
    claims = jwt.decode(result.output.strip(), secret, algorithms=[ALGORITHM], audience=settings.auth_jwt_audience)
    assert claims["iss"] == settings.auth_jwt_issuer
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_token_follows_the_configured_issuer_and_audience(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_JWT_ISSUER", "idp.example")
    monkeypatch.setenv("AUTH_JWT_AUDIENCE", "connector-eu")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["token", "--merchant-id", "m-1", "--hours", "24"])
        settings = get_settings()
        assert (settings.auth_jwt_issuer, settings.auth_jwt_audience) == ("idp.example", "connector-eu")
        secret = settings.auth_jwt_secret.get_secret_value()
        assert (
            decode_token(secret, result.output.strip(), TokenPolicy.from_settings(settings)).merchant_id == "m-1"
        )
    finally:
        get_settings.cache_clear()


def test_token_refuses_a_validity_the_api_would_refuse() -> None:
    result = runner.invoke(app, ["token", "--merchant-id", "m", "--hours", "25"])
    assert result.exit_code != 0
    assert "AUTH_JWT_MAX_LIFETIME_SECONDS" in result.output


def test_token_refuses_an_unknown_role() -> None:
    result = runner.invoke(app, ["token", "--merchant-id", "m", "--role", "admin"])
    assert result.exit_code != 0


def test_migrate_upgrades_the_configured_database(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["migrate"])
    finally:
        get_settings.cache_clear()
        configure_logging("DEBUG", stream=LOGS)  # the command set up its own logging
    assert result.exit_code == 0, result.output
    assert db.exists()
