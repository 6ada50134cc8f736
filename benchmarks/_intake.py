"""The webhook intake benchmark's pieces: the shops, the signed events, the wrk replay, the bare receiver."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from _common import MERCHANT_ID, answers, child_process, insert_connections, wait_started
from standardwebhooks.webhooks import Webhook

from rakuten_connector.db import create_engine, session_factory
from rakuten_connector.kit.crypto import new_webhook_secret
from rakuten_connector.mapping.parcels import order_ref
from rakuten_connector.sandbox.serve import free_port
from rakuten_connector.settings import Settings

HERE = Path(__file__).resolve().parent
WRK_THREADS = 2
PARCEL_SHARE = 0.1  # one event in ten is a parcel.updated, the rest stock.updated

# (path, headers, body) of one signed request
Request = tuple[str, dict[str, str], bytes]


@dataclass(frozen=True)
class Shop:
    login: str
    connection_id: str
    webhook_secret: str
    skus: list[str]


@dataclass
class Wrk:
    rate: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    requests: int
    spare: int
    cpu: float | None = None


async def seed_shops(
    settings: Settings, rakuten_url: str, cubyn_url: str, shops: int, skus: int, sales: int
) -> list[Shop]:
    """Sellers on the Rakuten sandbox with `skus` adverts each (the first with `sales` waiting sales), one
    Cubyn application, and their connections (stock updates on) written into the database."""
    names = [f"SKU-{n:05d}" for n in range(skus)]
    key = f"cub-intake-{uuid.uuid4().hex}"
    credentials = [(f"intake-{n}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex) for n in range(shops)]
    async with httpx.AsyncClient(timeout=120) as http:
        for login, token in credentials:
            (
                await http.post(f"{rakuten_url}/_sandbox/sellers", json={"login": login, "token": token})
            ).raise_for_status()
            adverts = {"adverts": [{"sku": sku, "stock": 0} for sku in names]}
            (await http.put(f"{rakuten_url}/_sandbox/sellers/{login}/inventory", json=adverts)).raise_for_status()
        generate = {
            "count": sales,
            "seed": 7,
            "skus": names[:20],
            "empty_sku_rate": 0,
            "nego_rate": 0,
            "item_status": "TO_CONFIRM",
            "shipping_types": ["Normal", "Suivi", "Recommandé", "Express"],
        }
        url = f"{rakuten_url}/_sandbox/sellers/{credentials[0][0]}/sales/generate"
        (await http.post(url, json=generate)).raise_for_status()
        (await http.put(f"{rakuten_url}/_sandbox/settings", json={"upload_delay_seconds": 1.0})).raise_for_status()
        application = {"merchant_id": MERCHANT_ID, "key": key}
        (await http.post(f"{cubyn_url}/_sandbox/applications", json=application)).raise_for_status()
        products = {"products": [{"sku": sku, "available": 1_000_000} for sku in names]}
        (
            await http.put(f"{cubyn_url}/_sandbox/merchants/{MERCHANT_ID}/products", json=products)
        ).raise_for_status()
    secrets = [new_webhook_secret() for _ in credentials]
    engine = create_engine(settings.database_url)
    try:
        ids = await insert_connections(
            session_factory(engine), settings, credentials, key, stock_sync=True, webhook_secrets=secrets
        )
    finally:
        await engine.dispose()
    return [
        Shop(login, cid, secret, names) for (login, _), cid, secret in zip(credentials, ids, secrets, strict=True)
    ]


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _signed(shop: Shop, document: dict[str, object]) -> Request:
    body = json.dumps(document, separators=(",", ":")).encode()
    webhook_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(shop.webhook_secret).sign(webhook_id, now, body.decode()),
    }
    return f"/v1/webhooks/cubyn/{shop.connection_id}", headers, body


def _stock(shop: Shop, sku: str, available: int, at: datetime) -> Request:
    data = {"sku": sku, "available": available, "movement": "FULFILMENT", "delta": -1}
    return _signed(shop, {"type": "stock.updated", "timestamp": _iso(at), "data": data})


def _parcel(shop: Shop, purchase_id: str, parcel_id: int, status: str, at: datetime) -> Request:
    data: dict[str, object] = {
        "id": parcel_id,
        "orderRef": order_ref(purchase_id),
        "status": status,
        "updatedAt": _iso(at),
    }
    if status == "SHIPPED":
        data |= {"carrier": "COLISSIMO", "carrierTrackingId": f"6A{parcel_id:011d}", "shippedAt": _iso(at)}
    return _signed(shop, {"type": "parcel.updated", "timestamp": _iso(at), "data": data})


def shop_events(
    shops: list[Shop], parcels: list[tuple[str, int]], count: int, rng: random.Random, clock: datetime
) -> tuple[list[Request], datetime]:
    """`count` signed events, each newer than the last (from `clock` on); returns them and the new clock."""
    events: list[Request] = []
    for _ in range(count):
        clock += timedelta(milliseconds=1)
        if parcels and rng.random() < PARCEL_SHARE:
            purchase_id, parcel_id = rng.choice(parcels)
            events.append(_parcel(shops[0], purchase_id, parcel_id, rng.choice(["PICKED", "PACKED"]), clock))
        else:
            shop = rng.choice(shops)
            events.append(_stock(shop, rng.choice(shop.skus), rng.randint(0, 100), clock))
    return events, clock


def closing_events(
    shops: list[Shop], parcels: list[tuple[str, int]], rng: random.Random, clock: datetime
) -> tuple[dict[tuple[int, str], int], list[Request]]:
    """The last quantity of every SKU of every shop and the shipment of every parcel: (the quantities
    Rakuten must end with, by (shop index, SKU); the signed events)."""
    final: dict[tuple[int, str], int] = {}
    events: list[Request] = []
    for index, shop in enumerate(shops):
        for sku in shop.skus:
            clock += timedelta(milliseconds=1)
            final[index, sku] = rng.randint(0, 100)
            events.append(_stock(shop, sku, final[index, sku], clock))
    for purchase_id, parcel_id in parcels:
        clock += timedelta(milliseconds=1)
        events.append(_parcel(shops[0], purchase_id, parcel_id, "SHIPPED", clock))
    return final, events


# -- wrk ----------------------------------------------------------------------------------------------------


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


async def replay(base_url: str, events: list[Request], args: argparse.Namespace, workdir: Path) -> Wrk:
    """wrk sends every request of `events` at most once, `args.connections` at a time, for `args.seconds`."""
    replay_file = workdir / "replay.tsv"
    with replay_file.open("w") as out:
        for path, headers, body in events:
            fields = [path, headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]]
            out.write("\t".join([*fields, body.decode()]) + "\n")
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{args.connections}",
        f"-d{args.seconds}s",
        "--latency",
        "-s",
        str(HERE / "webhook_replay.lua"),
        base_url,
    ]
    env = {**os.environ, "REPLAY_FILE": str(replay_file), "REPLAY_THREADS": str(WRK_THREADS)}
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE)
    output = (await process.communicate())[0].decode()
    (workdir / "wrk.out").open("a").write(output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    sent, spare = map(int, re.search(r"REPLAY events_sent=(\d+) spare=(\d+)", output).groups())  # type: ignore[union-attr]
    if spare:
        print(
            f"  (the replay ran out of requests: {spare} spare requests; give more with --requests)",
            file=sys.stderr,
        )
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Wrk(
        rate=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        p50_ms=_milliseconds(latency["50"]),
        p99_ms=_milliseconds(latency["99"]),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
        requests=sent,
        spare=spare,
    )


@contextmanager
def bare_process(database_url: str, secrets: dict[str, str], workdir: Path) -> Iterator[tuple[str, int]]:
    """The bare receiver on a port of its own, writing into the same database; yields its base URL and pid."""
    secrets_file = workdir / "secrets.json"
    secrets_file.write_text(json.dumps(secrets))
    port = free_port()
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    env = {**os.environ, "BARE_DSN": dsn, "BARE_SECRETS": str(secrets_file)}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--app-dir",
        str(HERE),
        "_bare_receiver:app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with child_process(command, env, workdir / "bare.log") as process:
        url = f"http://127.0.0.1:{port}"
        wait_started(lambda: answers(f"{url}/v1/webhooks/cubyn/none", "POST", 401), process, "the bare receiver")
        yield url, process.pid
