"""Receive Cubyn events: verify, validate, store, queue; the route answers 2xx only once all that is done.

Deliveries are stored in batches (a group commit): each request hands its delivery to the process's
`EventIntake` and waits; one task takes every delivery waiting at that moment, reads their connections in
one query, checks each signature and body, writes the good ones in one INSERT, commits, queues their jobs,
and only then answers each request. Under load a batch holds dozens of events for the price of one; alone,
an event goes through at once (nothing waits for a batch to fill).

Each delivery gets its own answer: a bad signature, a body lacking its fields or a connection that is gone
refuses that delivery only. A value the database still refuses sends the batch through one row at a time,
so that only its owner fails.

A connection whose secret was rotated (`webhooks/secret_rotation.py`) has two secrets until the grace of the
previous one ends: an event signed with either is accepted, and the end of the grace is checked against the
clock at each delivery. Both come with the connection's row, read once per batch, and their verifiers are
kept by ciphertext, so a rotation takes effect with the next batch and costs no query of its own.

Each delivery's outcome is logged once (`webhook_received`: connection, webhook-id, event type, result),
never its body nor a secret.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, tuple_
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from standardwebhooks.webhooks import Webhook

from rakuten_connector.connections.models import Connection
from rakuten_connector.db import insert_for
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.errors import ApiError, NotFound, refuses_values
from rakuten_connector.kit.queue import Job, JobQueue
from rakuten_connector.metrics.families import WEBHOOK_EVENTS
from rakuten_connector.webhooks.jobs import handling_job
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from rakuten_connector.webhooks.schemas import KNOWN_EVENTS
from rakuten_connector.webhooks.verification import SignedWith, validate_event, verify_signature

log = structlog.get_logger(__name__)

MAX_WEBHOOK_ID_LENGTH = 255
MAX_BATCH = 256
MAX_WRITERS = 4  # batches in flight at once (each holds a database connection until its commit)
_EVENTS = WebhookEvent.__table__
_SENDER_COLUMNS = (
    Connection.id,
    Connection.is_live,
    Connection.webhook_secret_enc,
    Connection.previous_webhook_secret_enc,
    Connection.previous_webhook_secret_expires_at,
)
# What of a delivery's own text a log line carries at most (the URL's connection id is any text).
_LOGGED_CHARS = 64


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST: the connection of its URL, its body, its headers (lower-case names)."""

    connection_id: str
    body: bytes
    headers: Mapping[str, str]
    # The request's id, for the log line the intake writes later from its own task.
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Received:
    duplicate: bool


@dataclass(frozen=True, slots=True)
class _Sender:
    """What the intake reads of a connection."""

    id: str
    is_live: bool
    webhook_secret_enc: str | None
    previous_webhook_secret_enc: str | None
    previous_webhook_secret_expires_at: datetime | None

    def secrets(self, now: datetime) -> list[str]:
        """The encrypted secrets an event may be signed with now: the current one, then the one a rotation
        replaced while its grace lasts."""
        secrets = [self.webhook_secret_enc] if self.webhook_secret_enc is not None else []
        until = self.previous_webhook_secret_expires_at
        if self.previous_webhook_secret_enc is not None and until is not None and now < until:
            secrets.append(self.previous_webhook_secret_enc)
        return secrets


@dataclass(slots=True)
class _Pending:
    delivery: Delivery
    answer: asyncio.Future[Received]
    row: dict[str, Any] | None = None  # the event to store, once it passed every check
    refusal: ApiError | None = None  # why it is refused
    signed_with: SignedWith | None = None

    def settle(self, result: Received | BaseException) -> None:
        if self.answer.done():  # the client went away: the event is stored all the same
            return
        if isinstance(result, BaseException):
            self.answer.set_exception(result)
        else:
            self.answer.set_result(result)


def _key(pending: _Pending) -> tuple[str, str]:
    assert pending.row is not None
    return pending.row["connection_id"], pending.row["webhook_id"]


def _stopping() -> ApiError:
    return ApiError(503, "unavailable", "The service is stopping: send the event again.")


def _job_of(row: Mapping[str, Any], committed_at: datetime) -> Job | None:
    """What a stored event asks the worker for."""
    return handling_job(row["event_type"], row["id"], row["connection_id"], row["received_at"], committed_at)


class _RecentJobs:
    """The ids this process queued lately, each until its job is due: queuing one again is a no-op for
    arq, but costs Redis round trips, and a burst asks for its connection's next batch hundreds of times."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def new(self, jobs: Iterable[Job], now: datetime) -> list[Job]:
        if len(self._until) > 10_000:
            self._until = {job_id: until for job_id, until in self._until.items() if until > now}
        fresh = [job for job in jobs if self._until.get(job.id, now) <= now]
        for job in fresh:
            self._until[job.id] = job.defer_until or now
        return fresh


class EventIntake:
    """The process's one writer of incoming events (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, box: SecretBox, queue: JobQueue) -> None:
        self._engine, self._box, self._queue = engine, box, queue
        self._waiting: list[_Pending] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._writers: set[asyncio.Task[None]] = set()
        self._hooks: dict[str, Webhook] = {}  # by encrypted secret: a new secret is a new key
        self._recent = _RecentJobs()

    async def receive(self, delivery: Delivery) -> Received:
        """Store one delivery; raises the `ApiError` that refuses it."""
        try:
            uuid.UUID(delivery.connection_id)
        except ValueError:
            _log_outcome(delivery, "not_found")
            raise NotFound("connection") from None
        pending = _Pending(delivery, asyncio.get_running_loop().create_future())
        self._waiting.append(pending)
        if self._task is None or self._task.done():
            # A context of its own: the task outlives the request that started it, and its id.
            self._task = asyncio.create_task(self._run(), name="webhook-intake", context=contextvars.Context())
        self._wake.set()
        return await pending.answer

    async def close(self) -> None:
        tasks = [task for task in (self._task, *self._writers) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for pending in self._waiting:
            pending.settle(_stopping())

    async def _run(self) -> None:
        """Hand what is waiting to a writer whenever one is free: while some batches wait for their commit,
        the next ones are checked and sent."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting and len(self._writers) < MAX_WRITERS:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                writer = asyncio.create_task(self._write(batch), name="webhook-intake-writer")
                self._writers.add(writer)
                writer.add_done_callback(self._writer_done)

    def _writer_done(self, writer: asyncio.Task[None]) -> None:
        self._writers.discard(writer)
        self._wake.set()

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            await self._store(batch)
        except Exception as exc:  # the database or Redis failed: every request of the batch says so
            for pending in batch:
                if not pending.answer.done():
                    _log_outcome(pending.delivery, "not_stored", error=type(exc).__name__)
                pending.settle(exc)
        except asyncio.CancelledError:
            for pending in batch:
                if not pending.answer.done():
                    _log_outcome(pending.delivery, "unavailable")
                pending.settle(_stopping())
            raise

    async def _store(self, batch: list[_Pending]) -> None:
        async with self._engine.connect() as conn:
            await self._check(conn, batch)
            # A body refused (400) under a webhook-id already stored is a duplicate delivery, whatever it holds.
            refused = [p.delivery for p in batch if p.refusal is not None and p.refusal.status_code == 400]
            seen = await _stored_ids(conn, refused) if refused else set()
            # In key order: two batches holding the same deliveries lock their keys in the same order.
            rows = sorted((p for p in batch if p.row is not None), key=_key)
            inserted = await _insert(conn, rows)
        now = utcnow()
        jobs = {job.id: job for p in batch if p.row and p.row["id"] in inserted if (job := _job_of(p.row, now))}
        await self._queue.send(self._recent.new(jobs.values(), now))
        outcomes: list[_Outcome] = []
        for pending in batch:
            delivery = pending.delivery
            if pending.row is not None:
                duplicate = pending.row["id"] not in inserted
                result = "duplicate" if duplicate else "accepted"
                outcomes.append((delivery, result, pending.row["event_type"], pending.signed_with))
                pending.settle(Received(duplicate=duplicate))
            elif (delivery.connection_id, delivery.headers.get("webhook-id")) in seen:
                outcomes.append((delivery, "duplicate", None, pending.signed_with))
                pending.settle(Received(duplicate=True))
            elif pending.refusal is not None:
                outcomes.append((delivery, pending.refusal.code, None, pending.signed_with))
                pending.settle(pending.refusal)
        # Written once the answers are on their way: the requests resumed by `settle` run first.
        asyncio.get_running_loop().call_soon(_log_outcomes, outcomes)

    async def _check(self, conn: AsyncConnection, batch: list[_Pending]) -> None:
        """Give each delivery its row to store, or its refusal."""
        ids = {p.delivery.connection_id for p in batch}
        found = await conn.execute(select(*_SENDER_COLUMNS).where(Connection.id.in_(ids)))
        connections = {row.id: _Sender(*row) for row in found}
        received_at = utcnow()
        for pending in batch:
            try:
                connection = connections.get(pending.delivery.connection_id)
                pending.row = self._row(connection, pending, received_at)
            except ApiError as exc:
                pending.refusal = exc

    def _row(self, connection: _Sender | None, pending: _Pending, received_at: datetime) -> dict[str, Any]:
        delivery = pending.delivery
        if connection is None:
            raise NotFound("connection")
        if not connection.is_live or connection.webhook_secret_enc is None:
            raise ApiError(410, "connection_disconnected", "This connection is disconnected: stop sending events.")
        hooks = [self._hook(secret_enc) for secret_enc in connection.secrets(received_at)]
        matched = verify_signature(hooks, delivery.body, delivery.headers)
        pending.signed_with = SignedWith.CURRENT if matched == 0 else SignedWith.PREVIOUS
        webhook_id = delivery.headers["webhook-id"]
        if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
            raise ApiError(400, "invalid_event", "webhook-id is too long.")
        event_type = validate_event(delivery.body)
        return {
            "id": str(uuid.uuid4()),
            "connection_id": connection.id,
            "webhook_id": webhook_id,
            "event_type": event_type,
            "payload": delivery.body.decode(),
            "status": (EventStatus.PENDING if event_type in KNOWN_EVENTS else EventStatus.IGNORED).value,
            "attempts": 0,
            "received_at": received_at,
        }

    def _hook(self, secret_enc: str) -> Webhook:
        hook = self._hooks.get(secret_enc)
        if hook is None:
            if len(self._hooks) > 10_000:
                self._hooks.clear()
            hook = self._hooks[secret_enc] = Webhook(self._box.decrypt(secret_enc).get_secret_value())
        return hook


async def _insert(conn: AsyncConnection, rows: Sequence[_Pending]) -> set[str]:
    """Insert and commit the rows, skipping the webhook-ids already stored; returns the ids inserted. A value
    the database refuses sends the rows through one at a time, so that only the row holding it fails."""
    if not rows:
        return set()
    try:
        inserted = await _insert_rows(conn, [p.row for p in rows if p.row is not None])
        await conn.commit()
        return inserted
    except (DBAPIError, OverflowError) as exc:
        if not refuses_values(exc):
            raise
        await conn.rollback()
    inserted = set()
    for pending in rows:
        assert pending.row is not None
        try:
            inserted |= await _insert_rows(conn, [pending.row])
            await conn.commit()
        except (DBAPIError, OverflowError) as exc:
            if not refuses_values(exc):
                raise
            await conn.rollback()
            log.warning("webhook_event_refused_by_database", error=type(exc).__name__)
            pending.row, pending.refusal = None, _refused_by_database()
    return inserted


async def _insert_rows(conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
    # One statement compiled once whatever the batch size: SQLAlchemy sends the rows as multi-row VALUES
    # ("insertmanyvalues") and gathers the RETURNING rows, which are those inserted.
    statement = (
        insert_for(conn, _EVENTS)
        .on_conflict_do_nothing(index_elements=["connection_id", "webhook_id"])
        .returning(_EVENTS.c.id)
    )
    return set((await conn.scalars(statement, rows)).all())


async def _stored_ids(conn: AsyncConnection, deliveries: Sequence[Delivery]) -> set[tuple[str, str]]:
    """The (connection, webhook-id) pairs among `deliveries` already stored."""
    pairs = {(d.connection_id, d.headers["webhook-id"]) for d in deliveries if "webhook-id" in d.headers}
    if not pairs:
        return set()
    column = tuple_(WebhookEvent.connection_id, WebhookEvent.webhook_id)
    rows = await conn.execute(select(WebhookEvent.connection_id, WebhookEvent.webhook_id).where(column.in_(pairs)))
    return {(connection_id, webhook_id) for connection_id, webhook_id in rows}


# A delivery's outcome as logged: the delivery, the result, its event type and the secret that signed it.
_Outcome = tuple[Delivery, str, str | None, SignedWith | None]


def _log_outcome(
    delivery: Delivery,
    result: str,
    event_type: str | None = None,
    signed_with: SignedWith | None = None,
    error: str | None = None,
) -> None:
    """The one log line of a delivery: what came, from whom, and what the intake answered; never its body,
    its signature or a secret. Fields without a value are left out: each costs the redaction's regexes, on
    the route that takes every event."""
    fields: dict[str, str] = {"connection_id": delivery.connection_id[:_LOGGED_CHARS], "result": result}
    webhook_id = delivery.headers.get("webhook-id")
    if webhook_id:
        fields["webhook_id"] = webhook_id[:MAX_WEBHOOK_ID_LENGTH]
    if event_type is not None:
        fields["event_type"] = event_type
    if signed_with is not None:
        fields["signed_with"] = signed_with.value
    if error is not None:
        fields["error"] = error
    if delivery.request_id is not None:
        fields["request_id"] = delivery.request_id
    log.info("webhook_received", **fields)
    # The type comes from outside: a label takes the known ones only.
    WEBHOOK_EVENTS.labels(event_type if event_type in KNOWN_EVENTS else "other", result).inc()


def _log_outcomes(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        _log_outcome(*outcome)


def _refused_by_database() -> ApiError:
    return ApiError(400, "invalid_event", "The event holds a value that cannot be stored.")
