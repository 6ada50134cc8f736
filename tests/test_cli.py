"""The `rakuten-connector` command."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from rakuten_connector.cli import app
from rakuten_connector.kit.auth import ALGORITHM
from rakuten_connector.kit.logging import configure_logging
from rakuten_connector.settings import get_settings
from tests.conftest import LOGS

runner = CliRunner()


@pytest.mark.parametrize(("args", "role"), [([], "merchant"), (["--role", "operator"], "operator")])
def test_token_prints_a_jwt_the_api_accepts(args: list[str], role: str) -> None:
    result = runner.invoke(app, ["token", "--merchant-id", "m-42", *args])
    assert result.exit_code == 0, result.output
    secret = get_settings().auth_jwt_secret.get_secret_value()
    claims = jwt.decode(result.output.strip(), secret, algorithms=[ALGORITHM])
    assert (claims["merchant_id"], claims["role"]) == ("m-42", role)
    assert claims["exp"] > claims["iat"]


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
