"""`rakuten-connector keys rotate`: every stored secret encrypted again with the first key of SECRET_KEYS,
after which the other keys can be taken out of SECRET_KEYS (`connections/key_rotation.py`)."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import BaseModel, Field

from rakuten_connector.cli.context import Operator, run
from rakuten_connector.cli.output import MARKUP, JsonFlag, Output
from rakuten_connector.connections.key_rotation import RotatedBatch, rotate_batch

app = typer.Typer(
    rich_markup_mode=MARKUP, no_args_is_help=True, help="The keys that encrypt the stored secrets (SECRET_KEYS)."
)


class RotationReport(BaseModel):
    rows: int = Field(0, description="Connections read.")
    rotated: int = Field(0, description="Secrets encrypted again with the first key.")
    current: int = Field(0, description="Secrets the first key already encrypted.")
    unreadable: list[str] = Field(default_factory=list, description="Connections holding a secret no key opens.")
    changing: list[str] = Field(default_factory=list, description="Connections whose secrets kept changing.")

    def add(self, batch: RotatedBatch) -> None:
        self.rows += batch.rows
        self.rotated += batch.rotated
        self.current += batch.current
        self.unreadable += batch.unreadable
        self.changing += batch.changing


@app.command("rotate")
def rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Connections per transaction.")] = 500,
    as_json: JsonFlag = False,
) -> None:
    """Encrypt every stored secret again with the first key of SECRET_KEYS.

    Rakuten tokens, Cubyn keys and webhook secrets. Give every process the new SECRET_KEYS first (new key
    first, old keys after), then run this; once it reports nothing left, the old keys may be removed.
    Running it again re-encrypts nothing. Exit code 1 when a secret could not be rotated."""
    out = Output(as_json)

    async def work(op: Operator) -> RotationReport:
        report = RotationReport()
        after: str | None = None
        while True:
            async with op.sessions() as session:
                batch = await rotate_batch(session, op.box, after, batch_size)
                await session.commit()
            report.add(batch)
            if batch.last_id is None:
                return report
            after = batch.last_id

    report = run(out, work)
    if as_json:
        out.json(report)
    else:
        out.fields(
            "Key rotation",
            [
                ("connections read", report.rows),
                ("secrets re-encrypted", report.rotated),
                ("already under the first key", report.current),
                ("connections with a secret no key opens", len(report.unreadable)),
                ("connections whose secrets kept changing", len(report.changing)),
            ],
        )
    if report.unreadable or report.changing:
        if not as_json:
            out.fail(_not_rotated(report), "not_rotated")
        raise typer.Exit(1)


def _not_rotated(report: RotationReport) -> str:
    problems = []
    if report.unreadable:
        ids = ", ".join(report.unreadable)
        problems.append(f"no key of SECRET_KEYS opens a secret of connection(s) {ids}: it cannot be recovered")
    if report.changing:
        problems.append(f"connection(s) {', '.join(report.changing)} kept changing: run the rotation again")
    return "; ".join(problems)
