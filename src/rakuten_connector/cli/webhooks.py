"""`rakuten-connector webhooks list|replay`: the Cubyn events stored by the webhook route, and handling one
again once what made it fail is fixed (or when its job was lost)."""

from __future__ import annotations

from typing import Annotated

import typer

from rakuten_connector.cli.context import OPERATOR, Operator, run
from rakuten_connector.cli.output import MARKUP, JsonFlag, Output
from rakuten_connector.connections import service as connections
from rakuten_connector.webhooks import service
from rakuten_connector.webhooks.models import EventStatus
from rakuten_connector.webhooks.schemas import EventOut

app = typer.Typer(
    rich_markup_mode=MARKUP, no_args_is_help=True, help="Cubyn's webhook events: list them, replay one."
)


@app.command("list")
def list_events(
    status: Annotated[EventStatus, typer.Option(help="The events in this status.", show_default=False)],
    connection: Annotated[
        str | None, typer.Option("--connection", help="Only this connection's (its id).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Events in one status, newest first, with why they failed."""
    out = Output(as_json)

    async def work(op: Operator) -> list[EventOut]:
        async with op.sessions() as session:
            connection_id = None
            if connection is not None:
                connection_id = (await connections.get_visible(session, OPERATOR, connection)).id
            events, _ = await service.list_events(session, status, connection_id, limit)
            return [EventOut.of(e) for e in events]

    events = run(out, work)
    if as_json:
        out.json({"items": events})
        return
    out.table(
        f"{len(events)} {status.value} event(s)",
        ["id", "connection", "type", "attempts", "received", "last error"],
        ([e.id, e.connection_id, e.event_type, e.attempts, e.received_at, e.last_error] for e in events),
    )


@app.command("replay")
def replay_event(
    event_id: Annotated[str, typer.Argument(help="The event's id (`webhooks list`).", show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Handle a failed or pending event again: back to pending, and its job queued.

    It is handled as if it had just come in (applying an event twice changes nothing)."""
    out = Output(as_json)

    async def work(op: Operator) -> tuple[EventOut, int]:
        async with op.sessions() as session:
            jobs = op.jobs()
            event = await service.replay(session, jobs, event_id)
            return EventOut.of(event), await jobs.commit(session)

    event, queued = run(out, work)
    if as_json:
        out.json({"event": event, "queued": bool(queued)})
        return
    how = "its job is queued" if queued else "Redis did not take its job: the sweep queues it within a minute"
    out.say(f"Event {event.id} ({event.event_type}) is pending again; {how}.")
