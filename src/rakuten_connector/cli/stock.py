"""`rakuten-connector stock sync`: "Synch my stock with Rakuten" for one connection, asked as
`POST /v1/connections/{id}/stock-syncs` asks it, then followed phase by phase until it ends."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from rakuten_connector.cli.connections import ConnectionId
from rakuten_connector.cli.context import OPERATOR, Operator, run
from rakuten_connector.cli.output import MARKUP, JsonFlag, Output
from rakuten_connector.connections import service as connections
from rakuten_connector.stock import service
from rakuten_connector.stock.jobs import sync_run_job
from rakuten_connector.stock.models import StockSync, SyncPhase, SyncStatus
from rakuten_connector.stock.router import sync_out
from rakuten_connector.stock.schemas import StockSyncOut, StockSyncQueued

app = typer.Typer(
    rich_markup_mode=MARKUP,
    no_args_is_help=True,
    help="Stock: reconcile a connection's whole inventory with Rakuten.",
)

FINISHED = frozenset({SyncStatus.SUCCEEDED.value, SyncStatus.FAILED.value})
# Exit code of a sync still going on when --timeout ran out (1 is a sync that failed).
STILL_RUNNING = 3
# One-side SKUs and suggestions listed in the summary (--json gives them all).
SHOWN = 20


def _shown(sync: StockSync) -> dict[str, Any]:
    """What the progress line says of the sync now: its phase, and a bar once the pushes are counted."""
    if sync.status == SyncStatus.QUEUED:
        return {"description": "queued: waiting for a worker", "total": None, "completed": 0}
    if sync.status == SyncStatus.FAILED:
        return {"description": "failed", "total": sync.to_update or None, "completed": sync.updated}
    phase = sync.phase
    if phase == SyncPhase.READING_RAKUTEN:
        text = f"1/4 reading Rakuten's inventory: {sync.rakuten_skus} SKUs"
    elif phase == SyncPhase.READING_CUBYN:
        text = f"2/4 reading Cubyn's catalogue: {sync.cubyn_skus} SKUs"
    elif phase == SyncPhase.COMPARING:
        text = f"3/4 comparing {sync.rakuten_skus} Rakuten SKUs with {sync.cubyn_skus} Cubyn SKUs"
    else:
        text = "4/4 pushing the quantities that differ" if phase == SyncPhase.PUSHING else "done"
        return {"description": text, "total": sync.to_update or None, "completed": sync.updated}
    return {"description": text, "total": None, "completed": 0}


async def _follow(op: Operator, out: Output, sync: StockSync, every: float) -> None:
    """Show the sync's progress until it ends."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=out.console, disable=out.as_json) as progress:
        task = progress.add_task(**_shown(sync))
        while sync.status not in FINISHED:
            await asyncio.sleep(every)
            async with op.sessions() as session:
                sync = await service.get_sync(session, sync.connection_id, sync.id)
            progress.update(task, **_shown(sync))


def _summary(out: Output, sync: StockSyncOut) -> None:
    p = sync.progress
    out.fields(
        f"Stock sync {sync.id}",
        [
            ("status", sync.status),
            ("phase", sync.phase),
            ("SKUs on Rakuten", p.rakuten_skus),
            ("SKUs at Cubyn", p.cubyn_skus),
            ("compared", p.compared),
            ("updated", f"{p.updated} of {p.to_update}"),
            ("only on Rakuten", _some(sync.only_on_rakuten)),
            ("only at Cubyn", _some(sync.only_on_cubyn)),
            ("error", sync.error),
            ("started", sync.started_at),
            ("finished", sync.finished_at),
        ],
    )
    if sync.suggested_mappings:
        out.table(
            "Suggested SKU mappings",
            ["rakuten sku", "cubyn sku", "rule"],
            ([s.rakuten_sku, s.cubyn_sku, s.rule] for s in sync.suggested_mappings[:SHOWN]),
        )


def _some(skus: list[str]) -> str:
    more = f" (+{len(skus) - SHOWN} more)" if len(skus) > SHOWN else ""
    return f"{len(skus)}: " + ", ".join(skus[:SHOWN]) + more if skus else "0"


@app.command("sync")
def sync_stock(
    connection_id: ConnectionId,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the sync until it ends.")] = True,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between two looks at its progress.")] = 1.0,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Stop following after this many seconds (exit code 3).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Reconcile the connection's whole stock with Rakuten and follow it: exit code 1 when it fails.

    As the merchant's "Synch my stock" button: Rakuten's inventory and Cubyn's catalogue are read, every
    quantity that differs is pushed, the SKUs found on one side only are listed. The sync runs in the
    workers; this command follows its phases (--no-wait: only queue it; --timeout: stop following, exit
    code 3, the sync goes on)."""
    out = Output(as_json)

    async def work(op: Operator) -> StockSyncQueued | StockSyncOut:
        async with op.sessions() as session:
            connection = await connections.get_visible(session, OPERATOR, connection_id)
            sync = await service.request_sync(session, connection)
            jobs = op.jobs()
            jobs.add(sync_run_job(sync.id, sync.created_at))  # if Redis loses it, the stock tick starts it
            await jobs.commit(session)
        if not wait:
            return StockSyncQueued(id=sync.id, status=SyncStatus(sync.status))
        if not as_json:
            out.say(f"Stock sync {sync.id} of {connection.name} queued.")
        # Past the timeout the sync goes on in the workers; the summary says where it is.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await _follow(op, out, sync, every)
        async with op.sessions() as session:
            return await sync_out(session, await service.get_sync(session, sync.connection_id, sync.id))

    result = run(out, work)
    if as_json:
        out.json(result)
    elif isinstance(result, StockSyncQueued):
        out.say(f"Stock sync {result.id} queued.")
    else:
        _summary(out, result)
    if isinstance(result, StockSyncOut):
        _exit_for(out, result)


def _exit_for(out: Output, sync: StockSyncOut) -> None:
    """Exit code 0 once succeeded, 1 once failed, STILL_RUNNING otherwise (--json: the sync says why)."""
    if sync.status == SyncStatus.SUCCEEDED:
        return
    failed = sync.status == SyncStatus.FAILED
    code = 1 if failed else STILL_RUNNING
    if out.as_json:
        raise typer.Exit(code)
    if failed:
        out.fail(f"the stock sync failed: {sync.error or 'no reason given'}", "stock_sync_failed", code)
    out.fail(f"the stock sync is still {sync.status.value}: it goes on in the workers", "still_running", code)
