"""The `rakuten-connector` command."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from rakuten_connector import cli
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


def test_api_serves_metrics_on_their_own_port(monkeypatch: pytest.MonkeyPatch, free_tcp_port: int) -> None:
    seen: dict[str, object] = {}

    def fake_uvicorn_run(*args: object, **kwargs: object) -> None:
        # While the API would be serving, the metrics answer on their own port.
        seen["api_port"] = kwargs["port"]
        seen["metrics"] = httpx.get(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=30)

    monkeypatch.setattr(cli.uvicorn, "run", fake_uvicorn_run)
    monkeypatch.setenv("METRICS_PORT", str(free_tcp_port))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["api", "--port", "8123"])
    finally:
        get_settings.cache_clear()
        configure_logging("DEBUG", stream=LOGS)
    assert result.exit_code == 0, result.output
    assert seen["api_port"] == 8123
    metrics = seen["metrics"]
    assert isinstance(metrics, httpx.Response)
    assert metrics.status_code == 200
    assert "http_requests_total" in metrics.text
    # Stopped with the API.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=5)


def test_api_serves_no_metrics_port_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setattr(cli, "serve_metrics", lambda *a, **k: started.append(a))
    monkeypatch.delenv("METRICS_PORT", raising=False)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["api"])
    finally:
        get_settings.cache_clear()
        configure_logging("DEBUG", stream=LOGS)
    assert result.exit_code == 0, result.output
    assert started == []
