"""The Rakuten simulator: one world, the injected faults and the call log. Every web-service call goes
through `RakutenSandbox.ws`, which logs it, injects the faults chosen for it and carries it out."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rakuten_connector.sandbox.rakuten.bodies import Faults
from rakuten_connector.sandbox.rakuten.contract import dispatch, read_upload
from rakuten_connector.sandbox.rakuten.models import WsError
from rakuten_connector.sandbox.rakuten.render import XML_MEDIA_TYPE, render_error
from rakuten_connector.sandbox.rakuten.state import RakutenWorld


class RakutenSandbox:
    """The simulator: a world, faults and a call log. `app.state.sandbox` is this object."""

    def __init__(self, *, seed: int = 0, **world_options: Any) -> None:
        self.seed = seed
        self.world_options = world_options
        self.reset()

    def reset(self) -> None:
        self.world = RakutenWorld(**self.world_options)
        self.faults = Faults()
        self.calls: list[dict[str, Any]] = []
        self.rng = random.Random(self.seed)

    # -- faults -----------------------------------------------------------------------------------------

    def _matches(self, action: str, login: str) -> bool:
        faults = self.faults
        return (faults.actions is None or action in faults.actions) and (
            faults.logins is None or login in faults.logins
        )

    def _pick_fault(self, action: str, login: str) -> str | None:
        faults = self.faults
        if not self._matches(action, login) or faults.times == 0:
            return None
        fault = None
        if faults.quota_exhausted:
            fault = "quota"
        else:
            for name, rate in (
                ("timeout", faults.timeout_rate),
                ("error", faults.error_rate),
                ("garbled", faults.garbled_rate),
                ("truncated", faults.truncated_rate),
            ):
                if rate and self.rng.random() < rate:
                    fault = name
                    break
        if fault is not None and faults.times is not None:
            faults.times -= 1
        return fault

    async def _hang(self, request: Request) -> None:
        """Sleep like a stuck server, but stop when the client gave up (so shutdown never waits)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.faults.timeout_seconds
        while loop.time() < end and not await request.is_disconnected():  # noqa: ASYNC110 - polls the client
            await asyncio.sleep(0.05)

    def _server_error(self) -> Response:
        if self.rng.random() < 0.5:
            body = render_error(
                WsError("ServerError", "Service unavailable", kind="Unknown error", http_status=503)
            )
            return Response(body, 503, media_type=XML_MEDIA_TYPE)
        return Response(b"<html><body><h1>502 Bad Gateway</h1></body></html>", 502, media_type="text/html")

    # -- web services -----------------------------------------------------------------------------------

    def _log(self, request: Request, action: str, login: str) -> dict[str, Any]:
        query = request.query_params
        entry: dict[str, Any] = {
            "time": self.world.now().isoformat(),
            "endpoint": request.url.path.strip("/"),
            "method": request.method,
            "action": action,
            "login": login,
            "params": {k: v for k, v in query.items() if k not in {"pwd", "login", "action"}},
            "http_status": None,
            "result": None,
        }
        self.calls.append(entry)
        return entry

    async def ws(self, request: Request) -> Response:
        action, login = request.query_params.get("action", ""), request.query_params.get("login", "")
        entry = self._log(request, action, login)
        fault = self._pick_fault(action, login)
        if self.faults.latency_seconds and self._matches(action, login):
            await asyncio.sleep(self.faults.latency_seconds)
        if fault == "timeout":
            await self._hang(request)
            entry.update(http_status=504, result="fault:timeout")
            return Response(b"", 504)
        if fault == "error":
            response = self._server_error()
            entry.update(http_status=response.status_code, result="fault:error")
            return response
        try:
            body = await read_upload(request) if request.method == "POST" else b""
            content = dispatch(self.world, entry["endpoint"], action, request, body, force_quota=fault == "quota")
            status, entry["result"] = 200, "ok"
        except WsError as exc:
            content, status, entry["result"] = render_error(exc), exc.http_status, exc.code
        # The action was carried out; only its answer is damaged (`result` keeps what really happened).
        if fault == "garbled":
            cut = len(content) // 3
            content, entry["fault"] = content[:cut] + b"<<\x00&&\xff garbage </>>" + content[cut:], "garbled"
        elif fault == "truncated":
            content, entry["fault"] = content[: len(content) // 2], "truncated"
        entry["http_status"] = status
        return Response(content, status, media_type=XML_MEDIA_TYPE)


def sandbox_of(request: Request) -> RakutenSandbox:
    """The simulator of the app serving `request`."""
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, RakutenSandbox)
    return sandbox


async def web_service(request: Request) -> Response:
    """`/sales_ws` and `/stock_ws`."""
    return await sandbox_of(request).ws(request)
