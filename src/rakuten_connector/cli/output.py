"""How the operator commands answer: rich tables for a person, JSON for scripts (`--json`, the shapes the
API answers with), and a failure as one line on stderr (with `--json`, the API's error shape on stdout)
and an exit code, never a traceback."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Final, NoReturn

import typer
from pydantic_core import to_jsonable_python
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from rakuten_connector.kit.errors import error_body

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")]
# Help texts are Markdown: paragraphs flow to the terminal's width, `code` stands out.
MARKUP: Final = "markdown"


# Control characters of text that came from outside (a webhook's event type, a Rakuten label): an escape
# sequence would drive the operator's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def cell(value: object) -> Text:
    """A value as a table shows it; text is never read as rich markup (a reason may hold brackets) nor
    terminal control (escape sequences are shown as replacement characters)."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, datetime):
        return Text(f"{value:%Y-%m-%d %H:%M:%S}")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, Enum):
        return Text(str(value.value))
    return Text(_CONTROL.sub("\N{REPLACEMENT CHARACTER}", str(value)))


class Output:
    """Where one command writes."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False)
        self._errors = Console(stderr=True, highlight=False)

    def json(self, data: object) -> None:
        typer.echo(json.dumps(to_jsonable_python(data), indent=2, ensure_ascii=False))

    def table(self, title: str | None, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(cell(value) for value in row))
        self.console.print(table)

    def fields(self, title: str | None, pairs: Iterable[tuple[str, object]]) -> None:
        """One object as name / value lines."""
        table = Table(title=title, title_justify="left", box=box.SIMPLE, show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for name, value in pairs:
            table.add_row(name, cell(value))
        self.console.print(table)

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(Text(text, style=style or ""))

    def warn(self, text: str) -> None:
        self._errors.print(Text(text, style="yellow"))

    def fail(self, message: str, code: str = "failed", exit_code: int = 1) -> NoReturn:
        if self.as_json:
            self.json(error_body(code, message))
        else:
            self._errors.print(Text(f"Error: {message}", style="red"))
        raise typer.Exit(exit_code)
