"""`rakuten-connector orders list|show|retry` and `rakuten-connector import`: the orders of every connection
as the operators' routes show them, the bulk retry and the import now of the API."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from rakuten_connector.cli.connections import ConnectionId
from rakuten_connector.cli.context import OPERATOR, Operator, run
from rakuten_connector.cli.output import MARKUP, JsonFlag, Output
from rakuten_connector.connections import service as connections
from rakuten_connector.orders import retries, service
from rakuten_connector.orders.models import OrderState
from rakuten_connector.orders.router import PAGE_MAX, detail_out, to_out
from rakuten_connector.orders.schemas import OrderDetail, OrderOut, OrderPage, RetryableState

app = typer.Typer(
    rich_markup_mode=MARKUP, no_args_is_help=True, help="Orders: list them, look at one, retry those that failed."
)

ConnectionOption = Annotated[str | None, typer.Option("--connection", help="Only this connection's (its id).")]


class RetryState(StrEnum):
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"


RETRYABLE: dict[RetryState, RetryableState] = {
    RetryState.FAILED: OrderState.FAILED,
    RetryState.NEEDS_ATTENTION: OrderState.NEEDS_ATTENTION,
}


@app.command("list")
def list_orders(
    state: Annotated[OrderState, typer.Option(help="The orders in this state.", show_default=False)],
    connection: ConnectionOption = None,
    limit: Annotated[int, typer.Option(min=1, max=PAGE_MAX, help="At most this many.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Where the previous page stopped (its next_cursor).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Orders in one state, newest first, of every connection or of one."""
    out = Output(as_json)

    async def work(op: Operator) -> OrderPage:
        async with op.sessions() as session:
            connection_id = None
            if connection is not None:
                connection_id = (await connections.get_visible(session, OPERATOR, connection)).id
            orders, next_cursor = await service.list_orders(
                session, state, limit, cursor, connection_id=connection_id
            )
        return OrderPage(items=[to_out(order) for order in orders], next_cursor=next_cursor)

    page = run(out, work)
    if as_json:
        out.json(page)
        return
    out.table(
        f"{len(page.items)} {state.value} order(s)",
        ["purchase", "connection", "state", "reason", "shipping type", "delivery", "parcel", "imported"],
        (_row(order) for order in page.items),
    )
    if page.next_cursor:
        out.say(f"More: --cursor {page.next_cursor}", style="dim")


def _row(o: OrderOut) -> list[object]:
    return [
        o.purchase_id,
        o.connection_id,
        o.state,
        o.reason,
        o.shipping_type,
        o.delivery_mode,
        o.parcel_id,
        o.imported_at,
    ]


@app.command("show")
def show_order(
    connection_id: ConnectionId,
    purchase_id: Annotated[str, typer.Argument(help="The Rakuten purchase id.", show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """One order: its state and why, its parcel, its items and its timeline."""
    out = Output(as_json)

    async def work(op: Operator) -> OrderDetail:
        async with op.sessions() as session:
            connection = await connections.get_visible(session, OPERATOR, connection_id)
            return await detail_out(session, await service.get_order(session, connection.id, purchase_id))

    order = run(out, work)
    if as_json:
        out.json(order)
        return
    out.fields(
        f"Order {order.purchase_id}",
        [
            ("connection", order.connection_id),
            ("state", order.state),
            ("reason", order.reason),
            ("shipping type", order.shipping_type),
            ("delivery mode", order.delivery_mode),
            ("parcel", order.parcel_id),
            ("parcel status", order.parcel_status),
            ("tracking", order.tracking_id),
            ("purchased", order.purchased_at),
            ("imported", order.imported_at),
            ("last error", order.last_error),
        ],
    )
    out.table(
        "Items",
        ["item", "sku", "cubyn sku", "rakuten status", "accepted", "tracking pushed"],
        ([i.item_id, i.sku, i.cubyn_sku, i.status, i.accepted_at, i.tracking_pushed_at] for i in order.items),
    )
    out.table("Timeline", ["at", "what", "message"], ([e.at, e.kind, e.message] for e in order.events))


@app.command("retry")
def retry_orders(
    state: Annotated[RetryState, typer.Option(help="Retry the orders in this state.", show_default=False)],
    connection: ConnectionOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Retry every order in a state, of one connection or of all: prints how many were queued.

    Each order is retried as the API's retry does. Without --connection, every connection that is not
    disconnected. Orders whose check is already due, or that a worker holds, are left out: asking twice
    queues nothing the second time."""
    out = Output(as_json)

    async def work(op: Operator) -> dict[str, int]:
        async with op.sessions() as session:
            if connection is not None:
                targets = [await connections.get_visible(session, OPERATOR, connection)]
            else:
                targets = [c for c in await connections.list_visible(session, OPERATOR, None) if c.is_live]
            queued: dict[str, int] = {}
            for connection_id in [c.id for c in targets]:
                queued[connection_id] = await retries.retry_every_order(
                    session, op.jobs(), connection_id, RETRYABLE[state]
                )
        return queued

    queued = run(out, work)
    total = sum(queued.values())
    if as_json:
        out.json({"queued": total, "connections": [{"connection_id": c, "queued": n} for c, n in queued.items()]})
        return
    if len(queued) > 1:
        out.table(None, ["connection", "queued"], ([c, n] for c, n in queued.items() if n))
    out.say(f"{total} order retr{'y' if total == 1 else 'ies'} queued ({state.value}).")


def import_now(connection_id: ConnectionId, as_json: JsonFlag = False) -> None:
    """Import the connection's new Rakuten orders now, without waiting for the next tick."""
    out = Output(as_json)

    async def work(op: Operator) -> tuple[str, str, int]:
        async with op.sessions() as session:
            connection = await connections.get_visible(session, OPERATOR, connection_id)
            jobs = op.jobs()
            jobs.add(service.request_import(connection))
            return connection.id, connection.name, await jobs.commit(session)

    found_id, name, queued = run(out, work)
    if as_json:
        out.json({"connection_id": found_id, "status": "accepted", "queued": bool(queued)})
        return
    if queued:
        out.say(f"Import of {name} ({found_id}) queued.")
    else:
        out.say(
            f"Import of {name} ({found_id}) asked; Redis did not take its job: a worker's scheduler starts it."
        )
