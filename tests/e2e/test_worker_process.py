"""The worker process: stops on SIGTERM, survives a Redis restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings
from tests.e2e.processes import environment

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("sessions")]


def _start(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rakuten_connector", "worker"],
        env=environment(settings),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def _wait_for_line(log: Path, text: str, seconds: float = 30) -> None:
    for _ in range(int(seconds * 10)):
        if text in log.read_text(errors="replace"):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{text!r} not in the worker's output: {log.read_text(errors='replace')[-2000:]}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("moment", ["Starting worker", "→ cron:"], ids=["idle", "during-a-job"])
async def test_worker_stops_cleanly_on_a_signal(
    settings: Settings, tmp_path: Path, sig: signal.Signals, moment: str
) -> None:
    log = tmp_path / "worker.log"
    process = _start(settings, log)
    try:
        await _wait_for_line(log, moment)
        process.send_signal(sig)
        code = await asyncio.to_thread(process.wait, 20)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 0
    assert "Traceback" not in log.read_text(errors="replace")


async def test_worker_survives_a_redis_restart(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    redis_dir = tmp_path / "redis"
    redis_dir.mkdir()
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start_redis() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, cwd=redis_dir, stdout=subprocess.DEVNULL)

    redis = start_redis()
    await asyncio.sleep(0.5)
    log = tmp_path / "worker.log"
    process = _start(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"}), log)
    try:
        await _wait_for_line(log, "Starting worker")
        redis.terminate()
        redis.wait(10)
        await asyncio.sleep(3)
        assert process.poll() is None, "the worker exited when Redis went away"
        redis = start_redis()
        # Back on its feet: it runs its scheduled jobs again.
        before = log.read_text(errors="replace").count("cron:schedule_imports ●")
        for _ in range(300):
            if log.read_text(errors="replace").count("cron:schedule_imports ●") > before:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the worker did not resume: {log.read_text(errors='replace')[-3000:]}")
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.to_thread(process.wait, 20)
        redis.terminate()
        redis.wait(10)
