"""`rakuten-connector connections list|show`: the merchants' shops, as `GET /v1/connections` shows them to
an operator (never a secret)."""

from __future__ import annotations

from typing import Annotated

import typer

from rakuten_connector.cli.context import OPERATOR, Operator, run
from rakuten_connector.cli.output import MARKUP, JsonFlag, Output
from rakuten_connector.connections import service
from rakuten_connector.connections.models import ConnectionStatus
from rakuten_connector.connections.router import to_out
from rakuten_connector.connections.schemas import ConnectionList, ConnectionOut
from rakuten_connector.orders import service as orders
from rakuten_connector.orders.models import OrderState

app = typer.Typer(
    rich_markup_mode=MARKUP, no_args_is_help=True, help="The merchants' connections (their Rakuten shops)."
)

ConnectionId = Annotated[str, typer.Argument(help="The connection's id.", show_default=False)]


@app.command("list")
def list_connections(
    status: Annotated[ConnectionStatus | None, typer.Option(help="Only the connections in this status.")] = None,
    merchant: Annotated[str | None, typer.Option(help="Only this merchant's connections.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every connection, newest first, with its status, last import and orders."""
    out = Output(as_json)

    async def work(op: Operator) -> list[ConnectionOut]:
        async with op.sessions() as session:
            connections = await service.list_visible(session, OPERATOR, merchant)
            if status is not None:
                connections = [c for c in connections if c.status == status]
            counts = await orders.counts_by_state(session, [c.id for c in connections])
        return [to_out(c, op.settings, counts[c.id]) for c in connections]

    items = run(out, work)
    if as_json:
        out.json(ConnectionList(items=items))
        return
    out.table(
        f"{len(items)} connection(s)",
        ["id", "merchant", "name", "seller", "status", "last import", "orders", "failed", "attention"],
        (
            [
                c.id,
                c.merchant_id,
                c.name,
                c.seller_id,
                c.status,
                c.last_import_at,
                sum(c.orders.values()),
                c.orders[OrderState.FAILED.value],
                c.orders[OrderState.NEEDS_ATTENTION.value],
            ]
            for c in items
        ),
    )


@app.command("show")
def show_connection(connection_id: ConnectionId, as_json: JsonFlag = False) -> None:
    """One connection: its settings, status, last import and orders per state."""
    out = Output(as_json)

    async def work(op: Operator) -> ConnectionOut:
        async with op.sessions() as session:
            connection = await service.get_visible(session, OPERATOR, connection_id)
            counts = await orders.counts_by_state(session, [connection.id])
        return to_out(connection, op.settings, counts[connection.id])

    connection = run(out, work)
    if as_json:
        out.json(connection)
        return
    out.fields(
        f"Connection {connection.id}",
        [
            ("name", connection.name),
            ("merchant", connection.merchant_id),
            ("seller", connection.seller_id),
            ("status", connection.status),
            ("why", connection.status_reason),
            ("paused", connection.paused),
            ("stock update", connection.stock_sync_enabled),
            ("stock buffer", connection.stock_buffer),
            ("stock max", connection.stock_max),
            ("refuse out of stock after (h)", connection.refuse_out_of_stock_after_hours),
            ("created", connection.created_at),
            ("last import", connection.last_import_at),
            ("last import error", connection.last_import_error),
            ("webhook URL", connection.webhook_url),
        ],
    )
    out.table("Orders", ["state", "orders"], ([state, n] for state, n in connection.orders.items()))
