"""The CLI as an operator runs it: in a thread and an event loop of its own (as its own process would),
reading its settings from the environment like the service, against the tests' database and Redis db.

`cli` runs one command and gives back click's result; `rows` writes what the commands look at."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from arq.constants import default_queue_name, job_key_prefix
from arq.jobs import deserialize_job
from click.testing import Result
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from rakuten_connector.cli import app, context
from rakuten_connector.connections.models import Connection, ConnectionState
from rakuten_connector.kit.clock import utcnow
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.orders.models import Order, OrderEvent, OrderItem, OrderState
from rakuten_connector.settings import Settings, get_settings
from rakuten_connector.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import use_secret

MISSING = "00000000-0000-4000-8000-000000000000"
runner = CliRunner()


def environment(settings: Settings) -> dict[str, str]:
    """`settings` as the environment variables that give them."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[name.upper()] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@dataclass
class Cli:
    env: dict[str, str]

    async def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run `rakuten-connector ARGS...` (with `env` over the test settings' environment)."""
        return await asyncio.to_thread(self.invoke, list(args), self.env | (env or {}))

    def invoke(self, args: Sequence[str], env: dict[str, str]) -> Result:
        get_settings.cache_clear()
        try:
            # Wide enough for a table to show ids whole.
            return runner.invoke(app, args, env={"COLUMNS": "250"} | env)
        finally:
            get_settings.cache_clear()

    async def json(self, *args: str, env: dict[str, str] | None = None, code: int = 0) -> Any:
        """The command's `--json` output, once it exited with `code`."""
        result = await self(*args, "--json", env=env)
        assert result.exit_code == code, result.output
        return json.loads(result.stdout)


@pytest.fixture(autouse=True)
def _logs_stay_with_the_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands log where the tests' logs go (the run fails if a secret reached a line), not to a stream
    of the runner: a worker of the test may log while a command runs."""
    monkeypatch.setattr(context, "configure_logging", lambda *_, **__: None)


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(environment(settings))


async def queued_jobs(redis_url: str, prefix: str) -> list[tuple[str, tuple[Any, ...]]]:
    """(function, arguments) of each job waiting in arq's queue whose id starts with `prefix`."""
    redis = Redis.from_url(redis_url)
    try:
        jobs = []
        for member in await redis.zrange(default_queue_name, 0, -1):
            if member.decode().startswith(prefix):
                body = await redis.get(job_key_prefix + member.decode())
                assert body is not None, member
                job = deserialize_job(body)
                jobs.append((job.function, job.args))
        return jobs
    finally:
        await redis.aclose()


@dataclass
class Rows:
    """Rows the commands look at, written straight into the database."""

    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox
    secrets: list[str] = field(default_factory=list)

    async def connection(self, **fields: Any) -> str:
        """A connection with its three secrets (registered as secrets: never logged, never printed)."""
        seller = f"shop-{uuid.uuid4().hex[:8]}"
        token, key, hook = (use_secret(f"{what}-CANARY-{uuid.uuid4().hex}") for what in ("rk", "cub", "whsec"))
        self.secrets += [token, key, hook]
        values: dict[str, Any] = {
            "merchant_id": "merchant-a",
            "name": "Boutique",
            "seller_id": seller,
            "seller_key": seller,
            "state": ConnectionState.ACTIVE.value,
            "rakuten_token_enc": self.box.encrypt(token),
            "cubyn_api_key_enc": self.box.encrypt(key),
            "webhook_secret_enc": self.box.encrypt(hook),
        }
        async with self.sessions() as session:
            connection = Connection(**(values | fields))
            session.add(connection)
            await session.commit()
            return connection.id

    async def order(self, connection_id: str, purchase_id: str, state: OrderState, **fields: Any) -> str:
        """An order with one item and one timeline event."""
        values: dict[str, Any] = {
            "purchase_id": purchase_id,
            "state": state.value,
            "imported_at": utcnow() - timedelta(minutes=int(purchase_id) if purchase_id.isdigit() else 0),
            "shipping_type": "Normal",
            "delivery_mode": "STANDARD",
        }
        async with self.sessions() as session:
            order = Order(connection_id=connection_id, **(values | fields), items=[])
            order.items.append(OrderItem(item_id=f"item-{purchase_id}", sku="SKU-1", rakuten_status="TO_CONFIRM"))
            session.add(order)
            await session.flush()
            session.add(OrderEvent(order_id=order.id, kind="imported", message="Parcel created at Cubyn."))
            await session.commit()
            return order.id

    async def event(
        self, connection_id: str, status: EventStatus, event_type: str, payload: dict[str, Any], **fields: Any
    ) -> str:
        async with self.sessions() as session:
            event = WebhookEvent(
                connection_id=connection_id,
                webhook_id=f"msg_{uuid.uuid4().hex}",
                event_type=event_type,
                payload=json.dumps(payload),
                status=status.value,
                **fields,
            )
            session.add(event)
            await session.commit()
            return event.id


@pytest.fixture
def rows(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> Rows:
    return Rows(sessions, SecretBox(settings.fernet_keys))
