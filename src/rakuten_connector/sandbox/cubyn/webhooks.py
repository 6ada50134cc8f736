"""Webhook deliveries of the Cubyn sandbox: Standard Webhooks signatures, retries with backoff, and the
delivery faults the connector must survive (duplicates, any order, held then released)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from standardwebhooks import Webhook

from rakuten_connector.kit.clock import utcnow
from rakuten_connector.sandbox.cubyn.render import iso

ReleaseOrder = Literal["fifo", "reverse", "shuffle"]


@dataclass(eq=False)
class Delivery:
    event_id: str
    event_type: str
    url: str
    secret: str
    payload: str
    due: float = 0.0
    attempts: int = 0
    sending: bool = False


class WebhookDispatcher:
    """Sends queued events from a background task (`start`/`stop` in the app lifespan), up to
    `concurrency` at a time, so events of one parcel may arrive in any order, as Cubyn's may.

    A non-2xx answer or a network error is retried with exponential backoff (`retry_base` * 2^n, capped
    at `retry_max_delay`), up to `max_attempts`; every attempt is logged.
    """

    def __init__(
        self,
        *,
        retry_base: float = 0.1,
        retry_max_delay: float = 30.0,
        max_attempts: int = 12,
        timeout: float = 5.0,
        rng: random.Random | None = None,
        concurrency: int = 16,
    ) -> None:
        self.concurrency = concurrency
        self.retry_base = retry_base
        self.retry_max_delay = retry_max_delay
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.duplicate = False
        self.reorder = False
        self.held = False
        self.log: list[dict[str, Any]] = []
        self._rng = rng or random.Random()
        self._pending: list[Delivery] = []
        self.in_flight = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def enqueue(self, url: str, secret: str, event_type: str, data: dict[str, Any]) -> str:
        event_id = f"msg_{uuid.uuid4().hex}"
        payload = json.dumps({"type": event_type, "timestamp": iso(utcnow()), "data": data})
        copies = 2 if self.duplicate else 1
        for _ in range(copies):
            self._pending.append(Delivery(event_id, event_type, url, secret, payload))
        self._wake.set()
        return event_id

    def hold(self) -> None:
        self.held = True

    def release(self, order: ReleaseOrder = "fifo") -> None:
        if order == "reverse":
            self._pending.reverse()
        elif order == "shuffle":
            self._rng.shuffle(self._pending)
        self.held = False
        self._wake.set()

    def clear(self) -> None:
        self._pending.clear()
        self.log.clear()
        self.held = self.duplicate = self.reorder = False

    async def start(self) -> None:
        if self._task is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
            self._task = asyncio.create_task(self._run(), name="cubyn-sandbox-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        sending: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._wake.clear()
                now = loop.time()
                if not self.held:
                    due = [d for d in self._pending if d.due <= now and not d.sending]
                    if self.reorder:
                        due.reverse()
                    for delivery in due[: max(0, self.concurrency - len(sending))]:
                        sending.add(self._start(delivery, sending))
                waits = [d.due - now for d in self._pending if not d.sending]
                timeout = None if self.held or not waits else max(0.0, min(waits))
                # asyncio.timeout, not wait_for: on Python 3.11, wait_for returns normally when it is
                # cancelled just as the event is set (a delivery ending as stop() comes), losing the stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
        finally:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)

    def _start(self, delivery: Delivery, sending: set[asyncio.Task[None]]) -> asyncio.Task[None]:
        delivery.sending = True
        self.in_flight += 1

        async def send() -> None:
            try:
                await self._attempt(delivery, asyncio.get_running_loop().time())
            finally:
                delivery.sending = False
                self.in_flight -= 1
                self._wake.set()  # a slot is free, or the delivery is due again later

        task = asyncio.create_task(send())
        task.add_done_callback(sending.discard)
        return task

    async def _attempt(self, delivery: Delivery, now: float) -> None:
        assert self._http is not None
        delivery.attempts += 1
        timestamp = utcnow()
        signature = Webhook(delivery.secret).sign(delivery.event_id, timestamp, delivery.payload)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": signature,
        }
        status_code: int | None = None
        error: str | None = None
        try:
            response = await self._http.post(delivery.url, content=delivery.payload.encode(), headers=headers)
            status_code = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        delivered = status_code is not None and 200 <= status_code < 300
        self.log.append(
            {
                "event_id": delivery.event_id,
                "type": delivery.event_type,
                "url": delivery.url,
                "attempt": delivery.attempts,
                "status_code": status_code,
                "error": error,
                "delivered": delivered,
                "at": iso(utcnow()),
            }
        )
        if delivery not in self._pending:  # cleared while it was being sent
            return
        if delivered or delivery.attempts >= self.max_attempts:
            self._pending.remove(delivery)
            return
        backoff = min(self.retry_max_delay, self.retry_base * 2 ** (delivery.attempts - 1))
        delivery.due = now + backoff
