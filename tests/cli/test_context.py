"""What every operator command shares: its logging, and a failure turned into a message and exit code 1."""

from __future__ import annotations

import pytest
import typer

from rakuten_connector.cli import context
from rakuten_connector.cli.output import Output
from rakuten_connector.kit.errors import ApiError
from rakuten_connector.settings import get_settings


def test_commands_log_warnings_only_unless_told_fewer() -> None:
    levels = [context._log_level(level) for level in ("DEBUG", "info", "WARNING", "ERROR", "bogus")]
    assert levels == ["WARNING", "WARNING", "WARNING", "ERROR", "WARNING"]


@pytest.mark.parametrize(
    ("failure", "code", "exit_code", "message"),
    [
        (ApiError(409, "stock_sync_running", "Already running."), "stock_sync_running", 1, "Already running."),
        (context.CommandFailed("Redis is away.", "redis"), "redis", 1, "Redis is away."),
        (ConnectionRefusedError(111, "refused"), "database_unavailable", 1, "the database failed"),
        (KeyboardInterrupt(), "interrupted", 130, "interrupted"),
    ],
)
def test_a_failure_is_its_message_and_an_exit_code(
    failure: BaseException, code: str, exit_code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def work(_: object) -> None:
        raise failure

    try:
        with pytest.raises(typer.Exit) as stopped:
            context.run_with_settings(Output(as_json=True), work)
    finally:
        get_settings.cache_clear()  # read from this process's environment
    assert stopped.value.exit_code == exit_code
    printed = capsys.readouterr().out
    assert f'"code": "{code}"' in printed
    assert message in printed
