"""One JSON log stream: every line the real `api`, `worker` and `migrate` processes print (their own, arq's,
uvicorn's, alembic's) is a JSON object, and the lines written while a request is answered carry the id its
answer's `X-Request-ID` gives (the caller's when sane, else a new one)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rakuten_connector.settings import Settings
from tests.conftest import LOGS
from tests.e2e.processes import environment, system
from tests.e2e.world import sale, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("sessions")]

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def json_lines(text: str, what: str) -> list[dict[str, Any]]:
    """Every line of `text` as a JSON object with its event, level and UTC timestamp (fails on any other)."""
    assert not text or text.endswith("\n"), f"{what}: the last line is cut: {text[-300:]!r}"
    records = []
    for number, line in enumerate(text.split("\n")[:-1], 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"{what}, line {number} is not JSON: {line[:300]!r}") from None
        assert isinstance(record, dict), f"{what}, line {number}: {line[:300]!r}"
        assert isinstance(record.get("event"), str), f"{what}, line {number} has no event: {line[:300]!r}"
        assert record.get("level") in {"debug", "info", "warning", "error", "critical"}, line[:300]
        assert datetime.fromisoformat(record["timestamp"]).utcoffset() is not None, line[:300]
        records.append(record)
    return records


def with_request_id(records: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("request_id") == request_id]


async def test_api_and_worker_print_only_json_lines_with_request_ids(settings: Settings, tmp_path: Path) -> None:
    sent_id = f"e2e-{uuid.uuid4().hex}"
    async with system(settings, tmp_path) as (w, _):
        await w.add_sales(sale("Normal", ["SKU-1"]))
        await w.connect()
        # A delivery to a connection id that cannot exist is refused (404) and logged while it is answered.
        not_a_connection = "/v1/webhooks/cubyn/not-a-connection"
        with_id = await w.api.post(not_a_connection, json={}, headers={"X-Request-ID": sent_id})
        without_id = await w.api.post(not_a_connection, json={})
        insane_id = await w.api.post(not_a_connection, json={}, headers={"X-Request-ID": "not sane!" * 20})
        too_large = await w.api.post(
            f"/v1/webhooks/cubyn/{w.connection_id}", content=b"x" * (w.settings.max_body_bytes + 1)
        )
        unauthorized = await w.api.get("/v1/connections")
        missing = await w.api.get("/v1/nothing-here")

        async def shipped() -> bool:
            return [o["state"] for o in await w.orders()] == ["shipped"]

        # The worker ran its ticks and the sale's jobs (import, parcel, tracking) meanwhile.
        await wait_for(shipped, seconds=120, what="the sale shipped by the worker process")
    outputs = {path.stem: path.read_text(errors="replace") for path in sorted(tmp_path.glob("*.log"))}
    assert sorted(name.split("-")[0] for name in outputs) == ["api", "worker"]
    records = {name: json_lines(text, name) for name, text in outputs.items()}
    api = next(r for name, r in records.items() if name.startswith("api"))
    worker = next(r for name, r in records.items() if name.startswith("worker"))

    assert (with_id.status_code, with_id.headers["x-request-id"]) == (404, sent_id)
    assert any(r["event"] == "webhook_received" for r in with_request_id(api, sent_id))
    generated = without_id.headers["x-request-id"]
    assert without_id.status_code == 404
    assert GENERATED_ID.fullmatch(generated)
    assert any(r["event"] == "webhook_received" for r in with_request_id(api, generated))
    assert GENERATED_ID.fullmatch(insane_id.headers["x-request-id"])
    for answer, status in ((too_large, 413), (unauthorized, 401), (missing, 404)):
        assert answer.status_code == status
        assert GENERATED_ID.fullmatch(answer.headers["x-request-id"])
        assert answer.headers.get_list("x-request-id") == [answer.headers["x-request-id"]]
    # Each library's own lines went through the same formatter: uvicorn's start and stop, arq's jobs.
    api_loggers = {r["logger"] for r in api}
    assert {"uvicorn.error", "rakuten_connector.webhooks.intake"} <= api_loggers, api_loggers
    assert any(r["event"].startswith("Application startup complete") for r in api)
    worker_loggers = {r["logger"] for r in worker}
    assert "arq.worker" in worker_loggers, worker_loggers
    assert any("cron:" in r["event"] for r in worker)
    assert not any("request_id" in r for r in worker)


async def test_migrate_prints_only_json_lines(settings: Settings) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rakuten_connector", "migrate"],
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    LOGS.write(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json_lines(done.stdout, "migrate's stdout")
    assert [r["event"] for r in answer] == ["database is up to date"]
    logged = json_lines(done.stderr, "migrate's stderr")
    assert any(r["logger"].startswith("alembic") for r in logged), logged


@pytest.mark.parametrize("command", ["api", "worker", "migrate"])
async def test_a_process_with_an_unknown_log_level_does_not_start(settings: Settings, command: str) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "rakuten_connector", command],
        env={**environment(settings), "LOG_LEVEL": "chatty"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    (refusal,) = json_lines(done.stderr, f"{command}'s stderr")
    assert (refusal["event"], refusal["level"]) == ("invalid_settings", "error")
    assert "LOG_LEVEL" in refusal["message"]
    assert "DEBUG, INFO, WARNING, ERROR, CRITICAL" in refusal["message"]
