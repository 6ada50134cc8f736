"""Every metric family shows up on `/metrics` of the API and of the worker process once the action that
feeds it happened: the real processes, the sandboxes, an order shipped, a stock sync, Cubyn's webhooks."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rakuten_connector import __version__
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings
from tests.e2e.processes import system
from tests.e2e.world import sale, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.usefixtures("sessions")]

P = "rakuten_connector_"
# Both processes: what every process counts, and what it reads from the database and Redis when scraped.
COMMON = {
    f"{P}build_info",
    f"{P}orders",
    f"{P}connections",
    f"{P}orders_overdue",
    f"{P}webhook_events_pending",
    f"{P}stock_skus_pending",
    f"{P}queue_jobs",
    f"{P}queue_oldest_job_age_seconds",
    f"{P}state_up",
}
API = {f"{P}http_requests", f"{P}http_request_duration_seconds", f"{P}webhook_events"}
WORKER = {
    f"{P}upstream_request_duration_seconds",
    f"{P}jobs",
    f"{P}job_duration_seconds",
    f"{P}orders_imported",
    f"{P}rakuten_actions",
    f"{P}stock_files",
    f"{P}stock_file_skus",
}
FORBIDDEN_LABELS = {"connection_id", "purchase_id", "sku", "merchant_id", "seller_id"}


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Families by name, each with its samples that have a value (a counter's `_total`, a histogram's `_count`)."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        kept = [(s.labels, s.value) for s in family.samples if not s.name.endswith(("_bucket", "_created"))]
        found[family.name] = kept
    return found


def fed(families: dict[str, list[tuple[dict[str, str], float]]], name: str) -> bool:
    return any(value > 0 for _, value in families.get(name, []))


async def test_each_family_is_fed_by_its_action(settings: Settings, tmp_path: Path) -> None:
    worker_metrics = free_port()
    async with system(settings, tmp_path, workers=0) as (w, processes):
        processes.start(
            "worker",
            "--host",
            "127.0.0.1",
            env={"METRICS_PORT": str(worker_metrics), "STOCK_REPORT_POLL_SECONDS": "2"},
        )
        await w.add_sales(sale("Normal", ["SKU-1", "SKU-2"]), sale("So Colissimo", ["SKU-3"]))
        await w.connect()

        async def shipped() -> bool:
            return sorted(o["state"] for o in await w.orders()) == ["shipped", "skipped"]

        await wait_for(shipped, seconds=120, what="orders shipped")
        url = f"/v1/connections/{w.connection_id}/stock-syncs"
        started = await w.api.post(url, headers=w.headers)
        assert started.status_code in (201, 202), started.text
        sync_url = f"{url}/{started.json()['id']}"

        async def synced() -> bool:
            return (await w.api.get(sync_url, headers=w.headers)).json()["status"] == "succeeded"

        await wait_for(synced, seconds=120, what="the stock sync")

        async with httpx.AsyncClient(timeout=30) as client:

            async def scraped() -> bool:
                worker = samples((await client.get(f"http://127.0.0.1:{worker_metrics}/metrics")).text)
                return all(fed(worker, name) for name in WORKER)

            await wait_for(scraped, seconds=60, what="the worker's series")
            api = samples((await w.api.get("/metrics")).text)
            worker = samples((await client.get(f"http://127.0.0.1:{worker_metrics}/metrics")).text)

    for name in COMMON | API:
        assert name in api, f"{name} not on the API's /metrics"
    for name in COMMON | WORKER:
        assert name in worker, f"{name} not on the worker's /metrics"
    for name in API | WORKER:
        source = api if name in API else worker
        assert fed(source, name), f"{name} has no sample above 0: {source.get(name)}"
    assert api[f"{P}build_info"] == [({"version": __version__}, 1.0)]
    orders = {labels["state"]: value for labels, value in api[f"{P}orders"]}
    assert (orders["shipped"], orders["skipped"]) == (1.0, 1.0)
    assert ({"status": "active"}, 1.0) in api[f"{P}connections"]
    assert ({}, 1.0) in worker[f"{P}state_up"]
    routes = {labels["route"] for labels, _ in api[f"{P}http_requests"]}
    assert "/v1/connections/{connection_id}/orders" in routes  # the template, never a real id
    assert "/v1/webhooks/cubyn/{connection_id}" in routes
    accepts = {labels["outcome"] for labels, _ in worker[f"{P}rakuten_actions"] if labels["action"] == "accept"}
    assert "done" in accepts
    assert fed(worker, f"{P}orders_skipped")
    results = {labels["result"] for labels, _ in api[f"{P}webhook_events"]}
    assert "accepted" in results
    for source in (api, worker):
        for name, kept in source.items():
            for labels, _ in kept:
                assert not FORBIDDEN_LABELS & set(labels), f"{name} carries {labels}"
