"""The deployment kit at the root (docker-compose.yml, .env.example, the Dockerfile, deploy/nginx.conf), checked
without a Docker engine: the services and their roles, each command against the real CLI, a healthcheck
right for each role, the start order, and an example environment that names exactly the service's
settings (plus the compose file's own variables) and holds values they accept.
"""

from __future__ import annotations

import importlib
import itertools
import json
import re
import secrets
import tomllib
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import yaml
from cryptography.fernet import Fernet
from pydantic import TypeAdapter, ValidationError

from rakuten_connector.settings import AppEnv, Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = ROOT / ".env.example"
NGINX_CONF = (ROOT / "deploy" / "nginx.conf").read_text()
# The connector's services and the CLI command each runs.
CONNECTOR_ROLES = ("migrate", "api", "worker")
# `NAME=value`, or `# NAME=value` for a setting left to its default.
ASSIGNMENT = re.compile(r"^(?P<commented># )?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)")
# Commented lines show the default, except these: what they show is an example of a value to set.
EXAMPLE_VALUES = {"DATABASE_URL", "REDIS_URL", "DOCS_ENABLED", "METRICS_PORT"}
SETTINGS = {name.upper(): field for name, field in Settings.model_fields.items()}


def _cli() -> Any:
    """The command the `rakuten-connector` script runs, found as pyproject.toml declares it (typer builds it
    on its own copy of click: what is used of it here is what both have, `commands` and `make_context`)."""
    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["rakuten-connector"]
    module, _, attribute = target.partition(":")
    entry = getattr(importlib.import_module(module), attribute)
    return typer.main.get_command(entry) if isinstance(entry, typer.Typer) else entry


def _check_cli_args(args: list[str]) -> list[str]:
    """Parses `rakuten-connector ARGS` as the CLI would, without running it (unknown commands and options,
    bad values and leftover arguments raise); returns the words that named the command."""
    command, path, rest = _cli(), [], list(args)
    while hasattr(command, "commands") and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        assert sub is not None, f"`rakuten-connector {' '.join([*path, rest[0]])}` is not a command"
        command = sub
        path.append(rest.pop(0))
    with command.make_context(" ".join(["rakuten-connector", *path]), rest):
        pass
    return path


def _healthcheck(service: str) -> list[str]:
    test = SERVICES[service]["healthcheck"]["test"]
    assert isinstance(test, list), f"{service}: a healthcheck in exec form (no shell in between)"
    assert test[0] == "CMD", f"{service}: {test}"
    return [str(word) for word in test[1:]]


def _dockerfile_instruction(name: str) -> list[str]:
    return [
        line.split(maxsplit=1)[1] if " " in line else ""
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.split(maxsplit=1)[:1] == [name]
    ]


def _nginx_port() -> str:
    (port,) = re.findall(r"^\s*listen (\d+);", NGINX_CONF, re.MULTILINE)
    return str(port)


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_the_services_are_the_connectors_roles_and_what_they_need() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "api", "worker", "proxy"}


def test_the_connector_services_run_the_image_built_from_the_dockerfile() -> None:
    images = {SERVICES[role]["image"] for role in CONNECTOR_ROLES}
    assert len(images) == 1, "one image for every role (built once)"
    for role in CONNECTOR_ROLES:
        service = SERVICES[role]
        assert service["build"] == "."
        assert service["env_file"] == ".env"
    assert (ROOT / "Dockerfile").is_file()


def test_the_image_runs_the_cli_and_leaves_healthchecks_to_each_role() -> None:
    assert [json.loads(value) for value in _dockerfile_instruction("ENTRYPOINT")] == [["rakuten-connector"]]
    # One HEALTHCHECK for every role would call the API's port from the worker and migrate containers too.
    assert _dockerfile_instruction("HEALTHCHECK") == []
    (default_command,) = _dockerfile_instruction("CMD")
    assert _check_cli_args(json.loads(default_command)) == ["api"]


@pytest.mark.parametrize("role", CONNECTOR_ROLES)
def test_each_connector_service_runs_its_cli_command(role: str) -> None:
    assert _check_cli_args(SERVICES[role]["command"]) == [role]


def test_the_api_healthcheck_asks_its_own_port_for_healthz() -> None:
    command = SERVICES["api"]["command"]
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)(/\S*?)'", " ".join(_healthcheck("api")))
    assert urls == [(_option(command, "--port"), "/healthz")]


def test_the_worker_healthcheck_is_the_cli_heartbeat_check() -> None:
    program, *args = _healthcheck("worker")
    assert program == "rakuten-connector"
    assert _check_cli_args(args) == ["worker", "check"]


def test_postgres_redis_and_the_proxy_have_their_own_readiness_checks() -> None:
    assert _healthcheck("postgres")[0] == "pg_isready"
    assert _healthcheck("redis") == ["redis-cli", "ping"]
    (proxy_url,) = [word for word in _healthcheck("proxy") if word.startswith("http")]
    assert "location = /proxy-healthz" in NGINX_CONF
    assert proxy_url == f"http://127.0.0.1:{_nginx_port()}/proxy-healthz"


def test_every_long_running_service_has_a_healthcheck_and_migrate_none() -> None:
    for name, service in SERVICES.items():
        if name == "migrate":
            assert "healthcheck" not in service, "a one-shot container is never healthy: it exits"
        else:
            assert {"test", "interval", "timeout", "retries"} <= set(service["healthcheck"]), name


def test_the_api_scales_behind_the_proxy() -> None:
    # A host port on the API would bind its first replica only.
    assert "ports" not in SERVICES["api"]
    (published,) = SERVICES["proxy"]["ports"]
    assert published.rsplit(":", 1)[1] == _nginx_port()
    assert f"set $api_replicas http://api:{_option(SERVICES['api']['command'], '--port')};" in NGINX_CONF
    assert "resolver 127.0.0.11" in NGINX_CONF, "Docker's DNS, read again as replicas come and go"
    assert "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in SERVICES["proxy"]["volumes"]


def test_services_start_in_order() -> None:
    after_migrate = {
        "migrate": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
    }
    expected = {
        "migrate": {"postgres": "service_healthy"},
        "api": after_migrate,
        "worker": after_migrate,
        "proxy": {"api": "service_healthy"},
    }
    for name, service in SERVICES.items():
        conditions = {dep: spec["condition"] for dep, spec in service.get("depends_on", {}).items()}
        assert conditions == expected.get(name, {}), name


def test_a_dependency_condition_is_one_its_service_can_meet() -> None:
    for name, service in SERVICES.items():
        for dependency, spec in service.get("depends_on", {}).items():
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[dependency], f"{name} waits for {dependency} to be healthy"
            else:
                assert spec["condition"] == "service_completed_successfully"
                assert SERVICES[dependency]["restart"] == "no", f"{dependency} must exit once and stay down"


def _example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def _example_assignments() -> dict[str, tuple[bool, str]]:
    """Each name of .env.example: whether its line is commented out, and its value."""
    assignments: dict[str, tuple[bool, str]] = {}
    for line in _example_lines():
        if match := ASSIGNMENT.match(line):
            assert match["name"] not in assignments, f"{match['name']} is listed twice"
            assignments[match["name"]] = (bool(match["commented"]), match["value"])
    return assignments


def test_env_example_names_every_setting_and_the_compose_variables_and_nothing_else() -> None:
    compose_variables = {match["name"] for match in COMPOSE_VARIABLE.finditer(COMPOSE_TEXT)}
    assert set(_example_assignments()) == set(SETTINGS) | compose_variables


def test_every_line_of_env_example_says_what_it_sets() -> None:
    lines = _example_lines()
    for before, line in itertools.pairwise(lines):
        if ASSIGNMENT.match(line):
            assert before.startswith("# "), f"no comment above {line!r}"
            assert not ASSIGNMENT.match(before), f"no comment of its own above {line!r}"


def _validate(name: str, value: str) -> object:
    """`value` as the setting reads it, with the field's constraints (`ge`, `le`...)."""
    field = SETTINGS[name]
    kind = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    return TypeAdapter(kind).validate_python(value)


def test_env_example_shows_the_defaults_and_values_the_settings_accept() -> None:
    for name, (commented, value) in _example_assignments().items():
        if name in SETTINGS:
            shown = _validate(name, value)
            if commented and name not in EXAMPLE_VALUES:
                assert shown == SETTINGS[name].get_default(), f"{name}: {value!r} is not its default"


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the file under test speaks: no setting comes from this process' environment."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("clean_environment")
def test_env_example_as_it_is_starts_nothing() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEYS"):
        Settings(_env_file=ENV_EXAMPLE)


@pytest.mark.usefixtures("clean_environment")
def test_env_example_with_its_secrets_set_is_a_production_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled = {
        "SECRET_KEYS": Fernet.generate_key().decode(),
        "AUTH_JWT_SECRET": secrets.token_urlsafe(48),
        "POSTGRES_PASSWORD": secrets.token_hex(24),
    }
    lines = [
        f"{match['name']}={filled[match['name']]}"
        if (match := ASSIGNMENT.match(line)) and match["name"] in filled
        else line
        for line in _example_lines()
    ]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    # What docker-compose.yml gives the containers when .env names no other database or Redis.
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql+asyncpg://rakuten:{filled['POSTGRES_PASSWORD']}@postgres:5432/rakuten"
    )
    monkeypatch.setenv("REDIS_URL", "redis://redis:6379/0")
    settings = Settings(_env_file=env_file)
    assert settings.app_env is AppEnv.PRODUCTION
    assert settings.fernet_keys == [filled["SECRET_KEYS"]]
