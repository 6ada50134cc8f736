"""The service's processes: `migrate`, `api` (and its metrics port), `token`."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from rakuten_connector import worker
from rakuten_connector.cli import app, serve
from rakuten_connector.kit.auth import ALGORITHM, Role, decode_token
from rakuten_connector.kit.keep_alive import SERVER_KEEP_ALIVE_SECONDS
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
    principal = decode_token(secret, result.output.strip(), settings.token_policy)
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
        assert decode_token(secret, result.output.strip(), settings.token_policy).merchant_id == "m-1"
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


def test_api_serves_metrics_on_their_own_port(monkeypatch: pytest.MonkeyPatch, free_tcp_port: int) -> None:
    seen: dict[str, object] = {}

    def fake_uvicorn_run(*args: object, **kwargs: object) -> None:
        # While the API would be serving, the metrics answer on their own port.
        seen["api_port"] = kwargs["port"]
        seen["keep_alive"] = kwargs["timeout_keep_alive"]
        seen["metrics"] = httpx.get(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=30)

    monkeypatch.setattr(serve.uvicorn, "run", fake_uvicorn_run)
    monkeypatch.setenv("METRICS_PORT", str(free_tcp_port))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["api", "--port", "8123"])
    finally:
        get_settings.cache_clear()
        configure_logging("DEBUG", stream=LOGS)
    assert result.exit_code == 0, result.output
    assert seen["api_port"] == 8123
    assert seen["keep_alive"] == SERVER_KEEP_ALIVE_SECONDS  # past the pools of Cubyn's webhook senders
    metrics = seen["metrics"]
    assert isinstance(metrics, httpx.Response)
    assert metrics.status_code == 200
    assert "rakuten_connector_http_requests_total" in metrics.text
    # Stopped with the API.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{free_tcp_port}/metrics", timeout=5)


def test_api_serves_no_metrics_port_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda *a, **k: None)
    monkeypatch.setattr(serve, "serve_metrics", lambda *a, **k: started.append(a))
    monkeypatch.delenv("METRICS_PORT", raising=False)
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["api"])
    finally:
        get_settings.cache_clear()
        configure_logging("DEBUG", stream=LOGS)
    assert result.exit_code == 0, result.output
    assert started == []


def test_worker_alone_runs_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[bool] = []
    monkeypatch.setattr(worker, "main", lambda: ran.append(True))
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 0, result.output
    assert ran == [True]
    # Its help names the check, which runs no worker.
    assert "check" in runner.invoke(app, ["worker", "--help"]).output
    assert ran == [True]


def test_api_refuses_several_processes_with_a_metrics_port(
    monkeypatch: pytest.MonkeyPatch, free_tcp_port: int
) -> None:
    ran: list[object] = []
    monkeypatch.setattr(serve.uvicorn, "run", lambda *a, **k: ran.append(a))
    monkeypatch.setattr(serve, "serve_metrics", lambda *a, **k: ran.append(a))
    monkeypatch.setenv("METRICS_PORT", str(free_tcp_port))
    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["api", "--workers", "2"])
    finally:
        get_settings.cache_clear()
        configure_logging("DEBUG", stream=LOGS)
    assert result.exit_code == 2
    assert "one process per container" in result.output
    assert ran == []
