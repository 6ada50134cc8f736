"""The `rakuten-connector` command: the service's processes (`serve.py`) and the operators' commands, one
module per domain (`connections.py`, `orders.py`, `stock.py`, `webhooks.py`, `keys.py`, `checks.py`), which
act through the services the API's routes use (`context.py`) and answer through `output.py`."""

from __future__ import annotations

from typing import Annotated

import typer

from rakuten_connector import __version__
from rakuten_connector.cli import checks, connections, keys, orders, serve, stock, webhooks
from rakuten_connector.cli.output import MARKUP

app = typer.Typer(
    rich_markup_mode=MARKUP, no_args_is_help=True, add_completion=False, help="Rakuten France <-> Cubyn connector."
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rakuten-connector {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Rakuten France <-> Cubyn connector."""


for command in (serve.migrate, serve.api, serve.token, serve.demo):
    app.command()(command)
serve.worker_app.command("check")(checks.worker_check)
app.add_typer(serve.worker_app, name="worker")
app.add_typer(connections.app, name="connections")
app.add_typer(orders.app, name="orders")
app.command("import")(orders.import_now)
app.add_typer(stock.app, name="stock")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(keys.app, name="keys")
app.add_typer(checks.config_app, name="config")


def main() -> None:
    app()
