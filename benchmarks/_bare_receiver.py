"""The floor of webhook intake: verify the signature, INSERT the event, answer (secrets from a file;
no lookup, validation or queue). `BARE_DSN=... BARE_SECRETS=s.json uvicorn --factory _bare_receiver:app`"""

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TABLE = "CREATE TABLE IF NOT EXISTS bare_events (id uuid PRIMARY KEY, connection_id text, webhook_id text, payload text, UNIQUE (connection_id, webhook_id))"


def app() -> Starlette:
    hooks = {
        key: Webhook(secret) for key, secret in json.loads(Path(os.environ["BARE_SECRETS"]).read_text()).items()
    }
    pool: list[asyncpg.Pool] = []

    async def receive(request: Request) -> JSONResponse:
        connection_id, body = request.path_params["connection_id"], await request.body()
        try:
            hooks[connection_id].verify(body, dict(request.headers))
        except (KeyError, WebhookVerificationError):
            return JSONResponse({"error": {"code": "invalid_signature"}}, 401)
        await pool[0].execute(
            "INSERT INTO bare_events VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            uuid.uuid4(), connection_id, request.headers["webhook-id"], body.decode(),
        )  # fmt: skip
        return JSONResponse({"status": "accepted"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with asyncpg.create_pool(os.environ["BARE_DSN"], min_size=10, max_size=10) as created:
            await created.execute(TABLE)
            pool.append(created)
            yield

    return Starlette(
        routes=[Route("/v1/webhooks/cubyn/{connection_id}", receive, methods=["POST"])], lifespan=lifespan
    )
