"""The service's own processes: `migrate`, `api`, `worker`, `demo`, and `token` for local use."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import structlog
import typer
import uvicorn

from rakuten_connector.cli.context import CommandFailed, load_settings
from rakuten_connector.cli.output import MARKUP
from rakuten_connector.kit.auth import Role
from rakuten_connector.kit.keep_alive import SERVER_KEEP_ALIVE_SECONDS
from rakuten_connector.kit.logging import configure_logging, outcome_line
from rakuten_connector.metrics.serving import serve_metrics
from rakuten_connector.settings import Settings, get_settings
from rakuten_connector.tokens import issue_token_for


def process_settings() -> Settings:
    """The settings of a process, or it does not start: one JSON line on stderr names each wrong setting
    (never its value), exit code 2."""
    try:
        return load_settings()
    except CommandFailed as exc:
        typer.echo(outcome_line(__name__, exc.code, level="error", message=exc.message), err=True)
        raise typer.Exit(2) from None


def migrate() -> None:
    """Apply the database migrations (alembic upgrade head) on DATABASE_URL."""
    from rakuten_connector.migrate import upgrade

    settings = process_settings()
    configure_logging(settings.log_level)
    try:
        upgrade(settings.database_url)
    except Exception:
        # In the log stream as JSON with its redacted traceback (the database URL carries a password).
        structlog.get_logger(__name__).exception("migration_failed")
        raise typer.Exit(1) from None
    # The command's answer: on stdout, in the same shape as the log lines.
    typer.echo(outcome_line(__name__, "database is up to date"))


def api(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes sharing the port.")] = 1,
) -> None:
    """Serve the REST API with uvicorn (and /metrics on METRICS_PORT when it is set)."""
    settings = process_settings()
    if settings.metrics_port and workers > 1:
        # The metrics server would run in uvicorn's supervisor, which answers no request: it would count none.
        raise typer.BadParameter(
            "METRICS_PORT serves one process's metrics: run one process per container and scale containers.",
            param_hint="--workers",
        )
    configure_logging(settings.log_level)
    stop_metrics = serve_metrics(host, settings.metrics_port) if settings.metrics_port else None
    try:
        uvicorn.run(
            "rakuten_connector.main:app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_config=None,
            proxy_headers=True,
            timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        )
    finally:
        if stop_metrics is not None:
            stop_metrics()


# `worker` runs the worker; `worker check` (checks.py) says whether one runs.
worker_app = typer.Typer(rich_markup_mode=MARKUP, invoke_without_command=True, add_completion=False)


@worker_app.callback()
def worker(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option(help="Interface of /metrics (on METRICS_PORT, when it is set).")
    ] = "127.0.0.1",
) -> None:
    """Run the worker: scheduled imports, sweeps and every job (arq on REDIS_URL), and /metrics on
    METRICS_PORT when it is set.

    `worker check` says whether one runs."""
    if ctx.invoked_subcommand is not None:
        return
    from rakuten_connector.worker import main as run_worker

    settings = process_settings()
    stop_metrics = serve_metrics(host, settings.metrics_port) if settings.metrics_port else None
    try:
        run_worker()
    finally:
        if stop_metrics is not None:
            stop_metrics()


def token(
    merchant_id: Annotated[str, typer.Option("--merchant-id", help="The merchant the token acts for.")],
    role: Annotated[Role, typer.Option(help="merchant or operator.")] = Role.MERCHANT,
    hours: Annotated[
        int,
        typer.Option(min=1, help="Validity in hours, at most AUTH_JWT_MAX_LIFETIME_SECONDS (24 h by default)."),
    ] = 12,
) -> None:
    """Print a JWT for local use (signed with AUTH_JWT_SECRET, for AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE)."""
    try:
        typer.echo(issue_token_for(get_settings(), merchant_id, role, timedelta(hours=hours)))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--hours") from None


def demo(
    port: Annotated[int, typer.Option(help="Port of the API (another free one when it is busy).")] = 8000,
    sales: Annotated[int, typer.Option("--sales", min=5, max=5000, help="Rakuten sales waiting at start.")] = 24,
    import_interval: Annotated[int, typer.Option(min=10, help="Seconds between two imports of the shop.")] = 30,
    new_sales_every: Annotated[
        float, typer.Option(min=0, help="About every how many seconds a few new sales arrive (0: never).")
    ] = 25.0,
) -> None:
    """Run everything on this machine: migrations, the API with /docs, a worker, both sandboxes, a demo shop
    with sales that keep coming, and a live view. Ctrl-C stops everything."""
    import asyncio
    import tempfile
    from pathlib import Path

    from rich.console import Console

    from rakuten_connector.demo import run as demo_module

    settings = get_settings()
    log_path = Path(tempfile.gettempdir()) / "rakuten-connector-demo.log"
    options = demo_module.DemoOptions(
        port=port, sales=sales, import_interval_seconds=import_interval, new_sales_every_seconds=new_sales_every
    )
    with log_path.open("w", encoding="utf-8") as log_file:
        # Log lines go to a file: the terminal belongs to the live view.
        configure_logging(settings.log_level, stream=log_file)
        code = asyncio.run(demo_module.main(settings, options, console=Console(), log_path=str(log_path)))
    raise typer.Exit(code)
