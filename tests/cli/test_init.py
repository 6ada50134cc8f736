"""The `rakuten-connector` command as installed: its entry point, `--version`, and every command in its help."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points, version

from typer.testing import CliRunner

from rakuten_connector.cli import app

runner = CliRunner()
COMMANDS = ["migrate", "api", "worker", "token", "demo", "import", "connections", "orders", "stock"]
COMMANDS += ["webhooks", "keys", "config"]


def test_the_console_script_is_this_app() -> None:
    (script,) = entry_points(group="console_scripts", name="rakuten-connector")
    assert script.load() is app


def test_version_is_the_installed_distributions() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"rakuten-connector {version('rakuten-connector')}"


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for command in COMMANDS:
        assert f" {command} " in result.stdout, command


def test_python_dash_m_runs_the_same_command() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "rakuten_connector", "--version"], capture_output=True, text=True, check=False
    )
    assert answer.returncode == 0, answer.stderr
    assert answer.stdout.strip() == f"rakuten-connector {version('rakuten-connector')}"
