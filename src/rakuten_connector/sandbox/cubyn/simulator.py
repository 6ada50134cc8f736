"""The Cubyn simulator shared by its contract and control routes: the state, the lifecycle scheduling, the
injected faults and the webhook dispatcher. `app.state.sandbox` is its `CubynSandbox`."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from rakuten_connector.sandbox.cubyn.bodies import Faults
from rakuten_connector.sandbox.cubyn.models import Application, LifecycleDelays, SandboxParcel
from rakuten_connector.sandbox.cubyn.state import CubynState
from rakuten_connector.sandbox.cubyn.webhooks import WebhookDispatcher


class SandboxError(Exception):
    """Answered as Cubyn does: `{"message", ...extra}` with `status_code`."""

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

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self.dispatcher.duplicate = faults.duplicate_deliveries
        self.dispatcher.reorder = faults.reorder_deliveries

    async def inject_faults(self) -> Response | None:
        """The answer a contract call gets instead of its own, if a fault hits it."""
        if self.faults.latency_seconds > 0:
            await asyncio.sleep(self.faults.latency_seconds)
        faults = self.faults  # as they are now: a PUT may have come during the latency
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


def sandbox_of(request: Request) -> CubynSandbox:
    """The simulator of the app serving `request`."""
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, CubynSandbox)
    return sandbox


def parcel_from_path(request: Request, app: Application | None) -> SandboxParcel:
    """The `{parcel_id}` of the path; 404 when unknown or (with `app`) another application's."""
    try:
        parcel = sandbox_of(request).state.parcels.get(int(request.path_params["parcel_id"]))
    except ValueError:
        parcel = None
    if parcel is None or (app is not None and parcel.application is not app):
        raise SandboxError(404, "Parcel not found")
    return parcel
