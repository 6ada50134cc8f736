"""The OpenAPI document's texts: the API's description and its tags, described."""

from __future__ import annotations

API_DESCRIPTION = """\
The REST API of rakuten-connector: connect a merchant's Rakuten France shop to Cubyn, follow its orders and
its stock, and choose how its carriers and SKUs map.

**Authentication.** Every `/v1` route but Cubyn's webhook takes a bearer JWT (`Authorization: Bearer
<token>`, the Authorize button here). A merchant's token sees its own connections only (another merchant's
answer 404, as missing ones do); an operator's token sees every connection.

**Errors.** Every 4xx and 5xx answer is an `ErrorResponse`: `{"error": {"code", "message", "details"}}`.
Branch on `code`; `message` is for people; `details` says more when there is more (the invalid fields of a
`validation_error`). A 429 or 503 carries `Retry-After`.

**Pages.** Lists that can be long are paged: pass the answer's `next_cursor` as `cursor` for the next page
(null: the last page).
"""

OPENAPI_TAGS = [
    {
        "name": "connections",
        "description": "A merchant's Rakuten shop linked to its Cubyn account: connect (credentials checked "
        "live), read, change, pause, disconnect.",
    },
    {
        "name": "orders",
        "description": "Rakuten sales as the connector handles them (imported, skipped with a reason, accepted, "
        "shipped, failed...), their timelines, imports on demand and retries.",
    },
    {
        "name": "stock",
        "description": "The quantities Rakuten shows, per SKU, kept at Cubyn's; the full comparison "
        '("Synch my stock with Rakuten") and its result.',
    },
    {
        "name": "carrier mappings",
        "description": "Which Cubyn delivery mode each Rakuten shipping type gets: the default table and a "
        "connection's own choices.",
    },
    {
        "name": "sku mappings",
        "description": "Which Cubyn SKU a Rakuten SKU is sold as, when the two catalogues spell it differently.",
    },
    {
        "name": "webhooks",
        "description": "Cubyn's signed events (parcel and stock updates), answered 2xx once stored.",
    },
    {
        "name": "webhook events",
        "description": "Operators: the Cubyn events received, their outcome, and replaying them.",
    },
    {"name": "health", "description": "Liveness and readiness probes (no token)."},
]
