"""Runtime of the Cubyn sandbox shared by its contract and control routes: lifecycle scheduling, injected
faults, and small JSON helpers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rakuten_connector.sandbox.cubyn_state import Application, CubynState, SandboxParcel
from rakuten_connector.sandbox.cubyn_webhooks import WebhookDispatcher

MOVEMENTS = ("INBOUND", "RETURN", "FULFILMENT", "ADJUSTMENT")


@dataclass
class LifecycleDelays:
    """Seconds before each step happens on its own; None: only when forced through the control API."""

    validate: float | None = 0.5
    pick: float | None = 1.0
    pack: float | None = 1.0
    ship: float | None = 1.0
    in_transit: float | None = None
    deliver: float | None = None


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0  # share of contract calls answered `error_status`
    error_status: int = 503
    rate_limit_rate: float = 0.0  # share of contract calls answered 429
    retry_after: int = 1
    errors_next: int = 0  # the next N contract calls fail with `error_status`
    rate_limits_next: int = 0  # the next N contract calls answer 429
    malformed_next: int = 0  # the next N contract calls answer 200 with a body that is not JSON
    duplicate_deliveries: bool = False
    reorder_deliveries: bool = False


class SandboxError(Exception):
    def __init__(self, status_code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status_code, self.message, self.extra = status_code, message, extra


class CubynSandbox:
    def __init__(self, delays: LifecycleDelays, dispatcher: WebhookDispatcher, rng: random.Random) -> None:
        self.initial_delays = delays
        self.delays = replace(delays)
        self.faults = Faults()
        self.dispatcher = dispatcher
        self.rng = rng
        self.state = CubynState(self._emit, self._schedule)
        self._tasks: set[asyncio.Task[None]] = set()

    def _emit(self, app: Application, event_type: str, data: dict[str, Any]) -> None:
        if app.webhook_url and app.webhook_secret:
            self.dispatcher.enqueue(app.webhook_url, app.webhook_secret, event_type, data)

    def _schedule(self, parcel: SandboxParcel) -> None:
        step = self.state.next_step(parcel)
        delay = getattr(self.delays, step) if step else None
        if delay is None:
            return
        task = asyncio.get_running_loop().create_task(self._later(parcel.id, parcel.generation, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _later(self, parcel_id: int, generation: int, delay: float) -> None:
        await asyncio.sleep(delay)
        parcel = self.state.parcels.get(parcel_id)
        if parcel is not None and parcel.generation == generation:
            self.state.advance(parcel)

    def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def reset(self) -> None:
        self.cancel_tasks()
        self.state.reset()
        self.dispatcher.clear()
        self.faults = Faults()
        self.delays = replace(self.initial_delays)

    async def inject_faults(self) -> Response | None:
        faults = self.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.errors_next > 0 or (faults.error_rate and self.rng.random() < faults.error_rate):
            faults.errors_next = max(0, faults.errors_next - 1)
            return JSONResponse({"message": "Sandbox: injected server error"}, status_code=faults.error_status)
        if faults.rate_limits_next > 0 or (faults.rate_limit_rate and self.rng.random() < faults.rate_limit_rate):
            faults.rate_limits_next = max(0, faults.rate_limits_next - 1)
            headers = {"Retry-After": str(faults.retry_after)}
            return JSONResponse({"message": "Too many requests"}, status_code=429, headers=headers)
        if faults.malformed_next > 0:
            faults.malformed_next -= 1
            return Response("<html>Bad gateway</html>", status_code=200, media_type="text/html")
        return None


def message_response(status_code: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status_code)


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return await request.json()
    except ValueError:
        raise SandboxError(400, "The body is not valid JSON.") from None


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise SandboxError(400, "The body must be a JSON object.")
    return body


Handler = Callable[[Request], Awaitable[Response]]


def guarded(handler: Handler) -> Handler:
    """Answers a `SandboxError` raised by `handler` as Cubyn does: `{"message", ...}`."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except SandboxError as exc:
            return message_response(exc.status_code, exc.message, **exc.extra)

    return endpoint


def parcel_from_path(state: CubynState, request: Request, app: Application | None) -> SandboxParcel:
    """The `{parcel_id}` of the path; 404 when unknown or (with `app`) another application's."""
    try:
        parcel = state.parcels.get(int(request.path_params["parcel_id"]))
    except ValueError:
        parcel = None
    if parcel is None or (app is not None and parcel.application is not app):
        raise SandboxError(404, "Parcel not found")
    return parcel
